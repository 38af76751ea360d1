"""web's /metrics: on its own port, never on the public one (web.metrics)."""

from __future__ import annotations

import socket

import httpx
import pytest
from starlette.testclient import TestClient

from web.app import create_app
from web.config import BadConfig, settings
from web.metrics import serve


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_metrics_port_setting():
    assert settings({"WEB_SECRET": "x" * 16}).metrics_port == 9104
    assert settings({"WEB_SECRET": "x" * 16, "WEB_METRICS_PORT": "0"}).metrics_port == 0
    with pytest.raises(BadConfig, match="WEB_METRICS_PORT"):
        settings({"WEB_SECRET": "x" * 16, "WEB_METRICS_PORT": "metrics"})


def test_requests_are_counted_and_served_on_the_metrics_port_only():
    port = free_port()
    config = settings({"WEB_SECRET": "x" * 16, "WEB_METRICS_PORT": str(port)})
    with TestClient(create_app(config)) as client:
        assert client.get("/static/app.css").status_code == 200
        assert client.get("/metrics").status_code == 404  # not on the public port
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert 'web_requests_total{method="GET",route="/static",status="200"}' in text
    assert 'web_requests_total{method="GET",route="unmatched",status="404"}' in text
    assert "web_request_duration_seconds_bucket" in text
    with pytest.raises(httpx.ConnectError):  # shut down with the app
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_metrics_off_with_port_zero():
    assert serve("127.0.0.1", 0) is None

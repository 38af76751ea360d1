"""shared.logs: one JSON object per line, with the bound request context, never a secret."""

from __future__ import annotations

import json
import logging
import re
import uuid

import pytest

from shared import logs


class ServiceLogs:
    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def configure(self, level: str = "DEBUG") -> None:
        # In the test itself: pytest resets the root level after each setup phase.
        logs.configure("catalog", level)

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.capsys.readouterr().out.splitlines()]


@pytest.fixture
def service_logs(capsys: pytest.CaptureFixture[str]):
    """Logging configured as a service does, and what it printed; the root logger restored."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield ServiceLogs(capsys)
    root.handlers[:], level = saved
    root.setLevel(level)


def test_a_line_is_one_json_object_with_the_basics(service_logs):
    service_logs.configure()
    logging.getLogger("catalog.use_cases").info("product %s created", "abc")

    [line] = service_logs.lines()
    assert line["msg"] == "product abc created"
    assert line["level"] == "INFO"
    assert line["service"] == "catalog"
    assert line["logger"] == "catalog.use_cases"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"])


def test_the_level_filters(service_logs):
    service_logs.configure("WARNING")
    logging.getLogger("x").info("quiet")
    logging.getLogger("x").warning("loud")

    assert [line["msg"] for line in service_logs.lines()] == ["loud"]


def test_bound_context_appears_until_reset(service_logs):
    service_logs.configure()
    log = logging.getLogger("x")
    token = logs.bind(request_id="req-1", user_id=None)
    log.info("inside")
    inner = logs.bind(trace_id="t-1")
    log.info("nested")
    logs.reset(inner)
    log.info("inside again")
    logs.reset(token)
    log.info("outside")

    inside, nested, again, outside = service_logs.lines()
    assert inside["request_id"] == "req-1"
    assert "user_id" not in inside  # None values are not bound
    assert nested["request_id"] == "req-1" and nested["trace_id"] == "t-1"
    assert "trace_id" not in again and again["request_id"] == "req-1"
    assert "request_id" not in outside


def test_extra_fields_appear_and_odd_types_are_stringified(service_logs):
    service_logs.configure()
    ident = uuid.uuid4()
    logging.getLogger("x").info("event", extra={"product_id": ident, "count": 3})

    [line] = service_logs.lines()
    assert line["product_id"] == str(ident)
    assert line["count"] == 3


@pytest.mark.parametrize("key", ["password", "token", "access_token", "refresh_token",
                                 "authorization", "Authorization", "PASSWORD"])
def test_secret_extra_fields_are_redacted(service_logs, key: str):
    service_logs.configure()
    logging.getLogger("x").info("login", extra={key: "hunter2", "email": "a@example.com"})

    [line] = service_logs.lines()
    assert line[key] == "[redacted]"
    assert line["email"] == "a@example.com"
    assert "hunter2" not in json.dumps(line)


def test_secret_fields_bound_to_the_context_are_redacted(service_logs):
    service_logs.configure()
    token = logs.bind(request_id="req-2", authorization="Bearer eyJsecret")
    try:
        logging.getLogger("x").info("call")
    finally:
        logs.reset(token)

    [line] = service_logs.lines()
    assert line["request_id"] == "req-2"
    assert line["authorization"] == "[redacted]"


def test_exceptions_are_logged_in_the_line(service_logs):
    service_logs.configure()
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("x").exception("failed")

    [line] = service_logs.lines()
    assert line["level"] == "ERROR"
    assert "ValueError: boom" in line["exc"]


def test_current_returns_a_copy_of_the_context():
    token = logs.bind(request_id="req-3")
    try:
        snapshot = logs.current()
        snapshot["request_id"] = "changed"
        assert logs.current() == {"request_id": "req-3"}
    finally:
        logs.reset(token)
    assert logs.current() == {}

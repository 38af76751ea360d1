"""Security headers on every response, HSTS only over HTTPS, CORS off unless configured."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, Response
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import GatewaySettings

ALWAYS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer",
          "x-frame-options": "DENY"}
ORIGIN = "https://shop.example"


def with_test_routes(app: FastAPI) -> FastAPI:
    @app.get("/test/public")
    async def public() -> Response:
        return Response(b"{}", headers={"ETag": '"3"'}, media_type="application/json")

    @app.get("/test/cacheable")
    async def cacheable() -> Response:
        return Response(b"{}", headers={"Cache-Control": "public, max-age=300"},
                        media_type="application/json")

    return app


@pytest.fixture
def plain(settings: GatewaySettings) -> TestClient:
    return TestClient(with_test_routes(create_app(settings)), raise_server_exceptions=False)


@pytest.mark.parametrize("path", ["/healthz", "/no/such/path", "/openapi.json", "/test/public"])
def test_every_response_has_the_security_headers(plain: TestClient, path: str):
    response = plain.get(path)
    for name, value in ALWAYS.items():
        assert response.headers[name] == value
    assert "strict-transport-security" not in response.headers, "no HSTS over plain HTTP"


def test_hsts_over_https(settings: GatewaySettings):
    client = TestClient(create_app(settings), base_url="https://testserver")
    response = client.get("/healthz")
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


def test_errors_and_answers_to_credentials_are_not_stored(plain: TestClient):
    assert plain.get("/no/such/path").headers["cache-control"] == "no-store"
    authorized = plain.get("/test/public", headers={"Authorization": "Bearer x"})
    assert authorized.headers["cache-control"] == "no-store"


def test_a_routes_own_cache_control_and_etag_are_kept(plain: TestClient):
    public = plain.get("/test/public")
    assert public.headers["etag"] == '"3"'
    assert "cache-control" not in public.headers, "anonymous reads are left to the ETag"
    cacheable = plain.get("/test/cacheable", headers={"Authorization": "Bearer x"})
    assert cacheable.headers.get_list("cache-control") == ["public, max-age=300"]


def test_cors_is_off_by_default(plain: TestClient):
    simple = plain.get("/healthz", headers={"Origin": ORIGIN})
    preflight = plain.options("/products", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in simple.headers
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_for_configured_origins(settings: GatewaySettings):
    config = settings.model_copy(update={"cors_origins": f"{ORIGIN}, https://admin.example"})
    client = TestClient(create_app(config), raise_server_exceptions=False)
    preflight = client.options("/products", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "x-request-id" in preflight.headers
    simple = client.get("/healthz", headers={"Origin": ORIGIN})
    assert simple.headers["access-control-allow-origin"] == ORIGIN
    assert "X-Request-ID" in simple.headers["access-control-expose-headers"]
    other = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_tls_needs_both_the_certificate_and_the_key():
    with pytest.raises(ValueError, match="GATEWAY_TLS_CERT"):
        GatewaySettings(GATEWAY_TLS_CERT="/tmp/cert.pem")

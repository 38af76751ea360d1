"""Operations routes without a broker: liveness, readiness breakdown, OpenAPI document."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from openapi_spec_validator import validate
from starlette.testclient import TestClient

from gateway.config import SERVICES, GatewaySettings


def test_healthz_needs_no_broker(client: TestClient):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_without_a_broker_is_a_503_problem_with_a_breakdown(
        test_app: FastAPI, settings: GatewaySettings):
    # The app's RPC client is never started here: not connected.
    client = TestClient(test_app)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    body = response.json()
    assert body["status"] == 503
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["broker"] == "down"
    assert body["services"] == {service: "unavailable" for service in SERVICES}


def test_openapi_is_valid_3_1_and_lists_every_route(app: FastAPI):
    document = TestClient(app).get("/openapi.json").json()

    validate(document)
    assert document["openapi"].startswith("3.1")
    listed = {(path, method) for path, item in document["paths"].items() for method in item}
    assert documented_routes(app) <= listed


def documented_routes(app: FastAPI) -> set[tuple[str, str]]:
    # Included routers are not flattened into app.routes (FastAPI 0.165): walk their contexts.
    routes = {(context.path, method.lower()) for context in iter_route_contexts(app.routes)
              if isinstance(context.original_route, APIRoute)
              and context.original_route.include_in_schema
              for method in context.original_route.methods}
    assert {("/healthz", "get"), ("/readyz", "get"), ("/metrics", "get")} <= routes
    return routes


def test_docs_page_is_served(client: TestClient):
    response = client.get("/docs")

    assert response.status_code == 200
    assert "swagger" in response.text.lower()


def test_metrics_are_prometheus_text(client: TestClient):
    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")

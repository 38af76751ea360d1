"""One checkout followed across every process: logs, traces and metrics of the running suite.

The suite runs as `make run` runs it (tests.support.suite.running_suite), on a vhost and
databases of its own (another suite on the session's vhost would answer some of its calls and
log them elsewhere), with every service's /metrics on a free port and OTLP export to a fake
collector in this process.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.observability.support import (
    Collector,
    declared_names,
    eventually,
    log_lines,
    sample_names,
    scrape,
    total,
)
from tests.support import infra
from tests.support.suite import RunningSuite, free_port, running_suite

pytestmark = pytest.mark.e2e

SERVICES = ("auth", "catalog", "payments")
CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"
OBSERVABILITY = infra.ROOT / "deploy" / "observability"


class Observed:
    def __init__(self, suite: RunningSuite, ports: dict[str, int], collector: Collector) -> None:
        self.suite, self.ports, self.collector = suite, ports, collector
        self.http = httpx.Client(base_url=suite.url, timeout=20)
        self.secrets: list[str] = []  # every password and token this run used

    def lines(self) -> list[dict[str, Any]]:
        return log_lines(self.suite.log())

    def metrics_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}/metrics"


@pytest.fixture(scope="module")
def observed(suite_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[Observed]:
    name = infra.unique("obs")
    urls = {s: infra.create_database(f"{name}_{s}") for s in SERVICES}
    ports = {service: free_port() for service in SERVICES}
    env = {**suite_env, **infra.vhost_env(name), "LOG_LEVEL": "INFO",
           **{f"{s.upper()}_DATABASE_URL": url for s, url in urls.items()},
           **{f"{s.upper()}_METRICS_PORT": str(port) for s, port in ports.items()},
           "METRICS_REFRESH_SECONDS": "1", "OTEL_BSP_SCHEDULE_DELAY": "200"}
    try:
        with Collector() as collector:
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.url
            log_path = Path(tmp_path_factory.mktemp("observed")) / "suite.log"
            with running_suite(env, log_path) as suite:
                running = Observed(suite, ports, collector)
                running.secrets.append(env["ADMIN_PASSWORD"])
                yield running
                running.http.close()
    finally:
        infra.delete_vhost(name)
        for service in SERVICES:
            infra.drop_database(f"{name}_{service}")


def login(observed: Observed, email: str, password: str) -> dict[str, str]:
    response = observed.http.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    tokens = response.json()
    observed.secrets += [tokens["access_token"], tokens["refresh_token"]]
    return {"Authorization": f"Bearer {tokens['access_token']}"}


@pytest.fixture(scope="module")
def shop(observed: Observed, suite_env: dict[str, str]) -> dict[str, Any]:
    """An admin, a product with stock, and a customer who is logged in."""
    admin = login(observed, suite_env["ADMIN_EMAIL"], suite_env["ADMIN_PASSWORD"])
    created = observed.http.post("/products", headers=admin, json={
        "sku": f"OBS-{uuid.uuid4().hex[:10]}", "name": "Traced teapot", "price": 1999,
        "currency": "USD", "stock": 10})
    assert created.status_code == 201, created.text
    email, password = f"traced-{uuid.uuid4().hex[:8]}@example.com", uuid.uuid4().hex
    observed.secrets.append(password)
    registered = observed.http.post("/auth/register", json={"email": email, "password": password})
    assert registered.status_code == 201, registered.text
    return {"product_id": created.json()["id"], "customer": login(observed, email, password),
            "user_id": registered.json()["id"]}


def checkout(observed: Observed, shop: dict[str, Any], **headers: str) -> httpx.Response:
    response = observed.http.post(
        "/payments", headers={**shop["customer"], "Idempotency-Key": uuid.uuid4().hex, **headers},
        json={"items": [{"product_id": shop["product_id"], "quantity": 1}],
              "payment_method": "tok_visa"})
    assert response.status_code == 201, response.text
    return response


def lines_of(observed: Observed, request_id: str) -> list[dict[str, Any]]:
    return [line for line in observed.lines() if line.get("request_id") == request_id]


def handled(lines: list[dict[str, Any]], process: str, method: str) -> dict[str, Any] | None:
    return next((line for line in lines if line["process"] == process
                 and line.get("method") == method and line["msg"].startswith("handled")), None)


def test_one_checkout_is_in_the_logs_of_gateway_payments_and_catalog(observed, shop):
    request_id = f"obs-{uuid.uuid4().hex}"
    checkout(observed, shop, **{"X-Request-ID": request_id})

    # catalog applies payment_succeeded from the outbox: the event carried the request's context.
    lines = eventually(lambda: (found := lines_of(observed, request_id))
                       and handled(found, "catalog", "on_payment_succeeded") and found)
    assert lines, f"no line of {request_id} in catalog's on_payment_succeeded"
    gateway = handled(lines, "gateway", "POST /payments")
    assert gateway is not None and gateway["status"] == 201
    trace_id = gateway["trace_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", trace_id)  # a new trace: the client sent none
    assert {line["process"] for line in lines} >= {"gateway", "payments", "catalog"}
    assert {line["trace_id"] for line in lines} == {trace_id}
    for process, method in (("payments", "checkout"), ("catalog", "reserve_stock"),
                            ("catalog", "on_payment_succeeded")):
        line = handled(lines, process, method)
        assert line is not None, f"{process}.{method} logged nothing for {request_id}"
        assert line["service"] == process and line["outcome"] == "ok"
    # The verified identity, never the token, names the user.
    assert gateway["user_id"] == shop["user_id"]
    assert handled(lines, "payments", "checkout")["user_id"] == shop["user_id"]
    # A new span per hop.
    spans = [line["span_id"] for line in lines if line["msg"].startswith("handled")]
    assert len(set(spans)) == len(spans) >= 4


def test_a_client_traceparent_keeps_its_trace_id_end_to_end(observed, shop):
    request_id = f"obs-{uuid.uuid4().hex}"
    checkout(observed, shop, **{"X-Request-ID": request_id,
                                "traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"})

    lines = eventually(lambda: (found := lines_of(observed, request_id))
                       and handled(found, "catalog", "on_payment_succeeded") and found)
    assert lines and {line["trace_id"] for line in lines} == {CLIENT_TRACE}
    assert {line["process"] for line in lines} >= {"gateway", "payments", "catalog"}

    # Exported spans form one tree: client -> gateway -> payments -> catalog (RPC and event).
    def trace() -> dict[str, dict[str, Any]]:
        spans = [s for s in observed.collector.spans() if s["traceId"] == CLIENT_TRACE]
        return {s["name"]: s for s in spans} if len(spans) >= 4 else {}

    spans = eventually(lambda: (found := trace()) and "catalog.on_payment_succeeded" in found
                       and found)
    assert spans, f"spans received: {[s['name'] for s in observed.collector.spans()]}"
    assert set(observed.collector.paths) == {"/v1/traces"}
    gateway, pay = spans["POST /payments"], spans["payments.checkout"]
    assert gateway["service"] == "gateway" and gateway["parentSpanId"] == CLIENT_SPAN
    assert gateway["kind"] == 2
    assert pay["service"] == "payments" and pay["parentSpanId"] == gateway["spanId"]
    for name in ("catalog.reserve_stock", "catalog.on_payment_succeeded"):
        assert spans[name]["service"] == "catalog"
        assert spans[name]["parentSpanId"] == pay["spanId"]
    assert spans["catalog.on_payment_succeeded"]["kind"] == 5  # consumer
    # The instrumentations' spans nest under the hop that made them: SQL under the workers.
    every = {s["spanId"]: s for s in observed.collector.spans() if s["traceId"] == CLIENT_TRACE}
    sql = [s for s in every.values() if s["attributes"].get("db.system") == "postgresql"]
    assert {s["service"] for s in sql} >= {"payments", "catalog"}
    assert all(s["parentSpanId"] in every and s["kind"] == 3 for s in sql)  # client


@pytest.mark.parametrize("value", ["00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                                   "garbage", f"00-{CLIENT_TRACE.upper()}-{CLIENT_SPAN}-01"])
def test_a_malformed_traceparent_starts_a_new_trace(observed, value):
    request_id = f"obs-{uuid.uuid4().hex}"
    response = observed.http.get("/products", headers={"traceparent": value,
                                                        "X-Request-ID": request_id})
    assert response.status_code == 200
    line = eventually(lambda: handled(lines_of(observed, request_id), "gateway", "GET /products"))
    assert re.fullmatch(r"[0-9a-f]{32}", line["trace_id"])
    assert line["trace_id"] not in (CLIENT_TRACE, "0" * 32)


def test_every_metrics_endpoint_parses_with_the_families_after_traffic(observed, shop):
    checkout(observed, shop)
    assert observed.http.get(f"/products/{shop['product_id']}").status_code == 200
    assert observed.http.get(f"/products/{uuid.uuid4()}").status_code == 404

    gateway = scrape(f"{observed.suite.url}/metrics")
    assert total(gateway, "gateway_requests_total", route="/payments", status="201") >= 1
    assert total(gateway, "gateway_request_duration_seconds_count", route="/payments") >= 1
    assert total(gateway, "gateway_upstream_rpc_duration_seconds_count",
                 service="payments", method="checkout") >= 1
    assert total(gateway, "gateway_upstream_rpc_errors_total", service="catalog",
                 status="404") >= 1
    assert total(gateway, "gateway_cache_lookups_total", kind="product") >= 1
    assert "gateway_rate_limited" in gateway  # declared even while no request was refused

    expected = {"auth": "login", "catalog": "reserve_stock", "payments": "checkout"}
    for service, method in expected.items():
        families = eventually(lambda s=service: _with_backlog(scrape(observed.metrics_url(s))))
        assert families, f"{service}: no outbox or DLQ sample"
        assert total(families, "suite_entrypoint_duration_seconds_count", service=service,
                     method=method, kind="rpc") >= 1
        assert total(families, "suite_db_pool_size", service=service, pool="db") > 0
        assert total(families, "suite_dlq_messages", queue=f"rpc-{service}.dlq") == 0
        assert "suite_outbox_oldest_age_seconds" in sample_names(families)
    catalog = scrape(observed.metrics_url("catalog"))
    assert total(catalog, "suite_entrypoint_duration_seconds_count",
                 method="on_payment_succeeded", kind="event") >= 1
    assert total(catalog, "suite_entrypoint_errors_total", method="get_product",
                 status="404") >= 1
    assert total(catalog, "suite_dlq_messages",
                 queue="evt-payments-payment_succeeded--catalog.on_payment_succeeded.dlq") == 0


def test_the_business_signals_count_checkouts_and_sample_payments_and_reservations(observed,
                                                                                   shop):
    checkout(observed, shop)
    declined = observed.http.post(
        "/payments", headers={**shop["customer"], "Idempotency-Key": uuid.uuid4().hex},
        json={"items": [{"product_id": shop["product_id"], "quantity": 1}],
              "payment_method": "tok_chargeDeclined"})
    assert declined.status_code == 402, declined.text

    def sampled(service: str, name: str) -> dict[str, Any] | None:
        families = scrape(observed.metrics_url(service))
        return families if name in sample_names(families) else None

    payments = eventually(lambda: sampled("payments", "suite_ledger_mismatches"))
    assert payments, "payments never sampled its signals"
    assert total(payments, "suite_checkouts_total", outcome="succeeded") >= 1
    assert total(payments, "suite_checkouts_total", outcome="declined",
                 decline_code="card_declined") >= 1
    assert total(payments, "suite_ledger_mismatches") == 0  # the books balance
    assert total(payments, "suite_ledger_reconciled_timestamp_seconds") > 0
    assert total(payments, "suite_payments_pending") >= 0
    catalog = eventually(lambda: sampled("catalog", "suite_reservations_active"))
    assert catalog, "catalog never sampled its signals"
    assert total(catalog, "suite_reservations_overdue") == 0


def _with_backlog(families: dict[str, Any]) -> dict[str, Any] | None:
    names = sample_names(families)
    return families if {"suite_outbox_pending_events", "suite_dlq_messages"} <= names else None


def test_dashboard_and_alerts_reference_only_metrics_that_exist(observed, shop):
    checkout(observed, shop)
    scraped = declared_names(scrape(f"{observed.suite.url}/metrics"))
    for service in SERVICES:
        scraped |= declared_names(scrape(observed.metrics_url(service)))
    scraped.add("up")  # made by Prometheus for every target it scrapes

    dashboard = (OBSERVABILITY / "grafana-dashboard.json").read_text()
    rules = yaml.safe_load((OBSERVABILITY / "alerts.yaml").read_text())
    exprs = [target["expr"] for panel in _panels(dashboard) for target in panel["targets"]]
    exprs += [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    used = {name for expr in exprs for name in metric_names(expr)}
    assert used, "no metric found in the dashboard or the rules"
    assert not used - scraped, f"not exported by any process: {sorted(used - scraped)}"


def _panels(dashboard: str) -> list[dict[str, Any]]:
    import json

    return [panel for panel in json.loads(dashboard)["panels"] if "targets" in panel]


PROMQL_WORDS = {"sum", "rate", "irate", "increase", "by", "without", "histogram_quantile", "max",
                "min", "avg", "on", "ignoring", "group_left", "clamp_min", "and", "or",
                "unless", "le", "count", "bool", "offset", "absent", "topk", "label_replace",
                "vector", "time", "delta", "deriv", "max_over_time", "min_over_time",
                "avg_over_time", "changes", "resets"}


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers outside label matchers and brackets."""
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"", " ", expr)
    bare = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", bare)
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare))
    return {w for w in words if w not in PROMQL_WORDS and not re.fullmatch(r"\d+\w*", w)}


def test_no_password_or_token_in_any_log_line(observed, shop):
    checkout(observed, shop)  # at least one authenticated call in every test order
    text = observed.suite.log()
    assert len(observed.secrets) >= 4
    for secret in observed.secrets:
        assert secret not in text
    assert "Bearer " not in text
    assert not [line for line in observed.lines() if "authorization" in line]

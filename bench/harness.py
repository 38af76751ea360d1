"""The processes `make bench` runs and the data it prepares, all on a throwaway vhost and databases.

- the suite's services (`nameko run`) and five gateways (`python -m gateway`, one worker each):
  `ours_plain` (cache off, the bench-only ping route on), `ours_unbatched` (cache and read
  coalescing off, ADR 0008), `ours` (as `make run` starts it but
  RATE_LIMIT_ENABLED=false, like every benchmark), and for the edge overhead `edge_full` (rate
  limits on Redis with budgets too high to bite, under a run-unique REDIS_PREFIX) and
  `edge_bare` (rate limits, breakers, shedding, metrics and tracing all off);
- the baselines: bench/baselines/nameko_http_gateway.py (ping), nameko_http_catalog.py (product
  read), both `@http` + `RpcProxy`, and asyncio_pg_catalog.py (FastAPI + asyncpg on the
  catalog's database).
"""

from __future__ import annotations

import sys
import types
from typing import Any

import httpx
import suite
from scenarios import module
from sqlalchemy import create_engine, text

SERVICES = ("auth", "catalog", "payments")
BIG_BUDGET = str(10**9)


def gateway_envs(env: dict[str, str], run_id: str) -> dict[str, dict[str, str]]:
    off = {"RATE_LIMIT_ENABLED": "false"}
    return {
        "ours_plain": {**off, "GATEWAY_CACHE_ENABLED": "false", "GATEWAY_BENCH_ROUTES": "true"},
        # ADR 0008 off: each uncached read its own catalog.get_product round trip.
        "ours_unbatched": {**off, "GATEWAY_CACHE_ENABLED": "false",
                           "GATEWAY_BATCH_READS": "false"},
        "ours": off,
        "edge_full": {"RATE_LIMIT_ENABLED": "true", "REDIS_PREFIX": f"bench-{run_id}",
                      "RATE_LIMIT_AUTH_PER_MINUTE": BIG_BUDGET,
                      "RATE_LIMIT_PER_MINUTE": BIG_BUDGET,
                      "RATE_LIMIT_USER_PER_MINUTE": BIG_BUDGET},
        "edge_bare": {**off, "GATEWAY_BREAKER_ENABLED": "false", "GATEWAY_MAX_INFLIGHT": "0",
                      "GATEWAY_METRICS_ENABLED": "false", "GATEWAY_TRACING_ENABLED": "false"},
    }


def launch(procs: suite.Processes, env: dict[str, str], pg_dsn: str,
           run_id: str) -> dict[str, str]:
    """Starts everything (without waiting); returns each HTTP front's base URL."""
    for name in SERVICES:
        procs.start(name, suite.nameko_service(name), env)
    bases: dict[str, str] = {}
    for name, extra in gateway_envs(env, run_id).items():
        port = suite.free_port()
        procs.start(name, [sys.executable, "-m", "gateway"],
                    {**env, **extra, "GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": str(port)})
        bases[name] = f"http://127.0.0.1:{port}"
    baselines = suite.ROOT / "bench" / "baselines"
    for name, app in (("nameko_ping", "nameko_http_gateway:NamekoHttpGateway"),
                      ("nameko_catalog", "nameko_http_catalog:NamekoHttpCatalog")):
        port = suite.free_port()
        procs.start(name, [str(suite.BIN / "nameko"), "run", "--config",
                           "nameko_http_gateway.yaml", app],
                    {**env, "BENCH_BASELINE_ADDRESS": f"127.0.0.1:{port}"}, cwd=baselines)
        bases[name] = f"http://127.0.0.1:{port}"
    port = suite.free_port()
    procs.start("asyncio_pg", [sys.executable, "-m", "uvicorn", "--factory",
                               "asyncio_pg_catalog:create_app", "--port", str(port), "--loop",
                               "uvloop", "--http", "httptools", "--no-access-log",
                               "--log-level", "warning"],
                {**env, "BENCH_PG_DSN": pg_dsn}, cwd=baselines)
    bases["asyncio_pg"] = f"http://127.0.0.1:{port}"
    return bases


def wait_ready(procs: suite.Processes, bases: dict[str, str], product_id: str,
               service: str) -> None:
    """Until the suite is ready and every front answers the request its scenarios make."""
    suite.wait_http_ok(f"{bases['ours']}/readyz", procs, timeout=120)
    for name, base in bases.items():
        probe = f"/_bench/ping/{service}" if name in ("ours_plain", "nameko_ping") \
            else f"/products/{product_id}"
        suite.wait_http_ok(base + probe, procs, timeout=120)


def catalog_words(catalog_url: str) -> tuple[list[str], list[str]]:
    """Some product names and every category, for the listing and search mix."""
    engine = create_engine(catalog_url)
    try:
        with engine.connect() as conn:
            names = list(conn.execute(text("SELECT name FROM products ORDER BY id LIMIT 200"))
                         .scalars())
            categories = list(conn.execute(text(
                "SELECT DISTINCT category FROM products WHERE category IS NOT NULL "
                "ORDER BY 1")).scalars())
    finally:
        engine.dispose()
    return names, categories


def prepare(base: str, args: Any, catalog_url: str, product_ids: list[str]) -> dict[str, Any]:
    """Accounts, tokens and checkout products, made through the gateway like a client would."""
    checkout, auth = module("checkout"), module("auth_login")
    try:
        products, tokens = checkout.prepare_data(base, types.SimpleNamespace(
            products=args.checkout_products, customers=args.customers))
        emails = auth.register(base, args.login_accounts)
    except httpx.HTTPError as exc:
        raise suite.BenchError(f"preparing accounts and products failed: {exc}") from exc
    names, categories = catalog_words(catalog_url)
    return {"product_ids": product_ids, "checkout_products": products,
            "customer_tokens": tokens, "login_emails": emails, "names": names,
            "categories": categories}

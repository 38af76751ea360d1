"""The two copies of the suite the scale scenario (bench/scale.py) compares: their bulk data
(bench/scale_seed.py, one subprocess per database), their processes (the services and one
gateway, cache and rate limits off) and their wrk scripts."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import harness
import scenarios
import suite
from sqlalchemy import create_engine, text

SIZES = ("small", "big")
BENCH = Path(__file__).resolve().parent


def seed(urls: dict[str, dict[str, str]], rows: dict[str, int]) -> None:
    """Both copies at once, each service's database by its own subprocess."""
    children = [subprocess.Popen([sys.executable, str(BENCH / "scale_seed.py"), service,
                                  urls[size][service], str(rows[size])],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for size in SIZES for service in ("catalog", "payments")]
    for child in children:
        out, err = child.communicate(timeout=1800)
        if child.returncode != 0:
            raise suite.BenchError(f"bulk seeding failed: {err.strip()[-2000:]}")
        print(f"bench: {out.strip()}", flush=True)


def start(procs: suite.Processes, size: str, amqp_uri: str, urls: dict[str, str],
          pool_size: int) -> str:
    """The services and one gateway (cache and rate limits off) of one copy; its base URL."""
    checkout = scenarios.module("checkout")
    env = {**suite.suite_env(amqp_uri, urls), "ADMIN_EMAIL": checkout.ADMIN[0],
           "ADMIN_PASSWORD": checkout.ADMIN[1], "METRICS_PORT": "0",
           "AUTH_ACCESS_TOKEN_TTL": "3600", "DB_POOL_SIZE": str(pool_size)}
    for service in harness.SERVICES:  # named per copy, so each gets its own broker user here
        procs.start(f"{service}_{size}", suite.nameko_service(service),
                    {**env, "AMQP_URI": env[f"{service.upper()}_AMQP_URI"]})
    port = suite.free_port()
    procs.start(f"gateway_{size}", [sys.executable, "-m", "gateway"],
                {**env, "AMQP_URI": env["GATEWAY_AMQP_URI"], "GATEWAY_HOST": "127.0.0.1",
                 "GATEWAY_PORT": str(port), "GATEWAY_CACHE_ENABLED": "false"})
    return f"http://127.0.0.1:{port}"


def sample_ids(catalog_url: str, count: int) -> list[str]:
    """`count` product ids spread over the whole table, in random order."""
    engine = create_engine(catalog_url)
    try:
        with engine.connect() as conn:
            return [str(i) for i in conn.execute(text(
                "SELECT id FROM products ORDER BY random() LIMIT :n"), {"n": count}).scalars()]
    finally:
        engine.dispose()


def workloads(base: str, catalog_url: str, args: Any, tmp: str) -> dict[str, str]:
    """Scenario -> wrk script for one copy: accounts and checkout products made through its
    gateway, product ids from its own table; listing and search from `listing_paths`."""
    checkout = scenarios.module("checkout")
    products, tokens = checkout.prepare_data(base, types.SimpleNamespace(products=50,
                                                                          customers=16))
    names, categories = harness.catalog_words(catalog_url)
    paths = scenarios.listing_paths(names, categories)
    folder = Path(tmp) / base.rsplit(":", 1)[1]
    folder.mkdir()
    return {
        "product_read": scenarios.module("catalog").lua_script(
            sample_ids(catalog_url, args.sample), str(folder)),
        "listing": scenarios.paths_script("listing", [p for p in paths if "q=" not in p], [],
                                          str(folder)),
        "search": scenarios.paths_script("search", [p for p in paths if "q=" in p], [],
                                         str(folder)),
        "checkout": checkout.lua_script(tokens, products, str(folder)),
    }

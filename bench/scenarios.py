"""The scenarios of `make bench` (bench/run.py): what each loads, on which processes, and the goal
from the issues it is judged against.

A scenario is one HTTP workload run on one or two systems: ours first, then the baseline the
ratio is taken against. The request mixes come from the scenario modules their owners wrote
(bench/catalog.py, bench/checkout.py, bench/auth_login.py), loaded here as libraries.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH = Path(__file__).resolve().parent


@functools.cache
def module(name: str) -> ModuleType:
    """bench/<name>.py under another name: `catalog` and friends would shadow the services'
    packages of the same name."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


@dataclass(frozen=True)
class Goal:
    text: str
    min_ratio: float | None = None
    min_rps: float | None = None
    max_p99_ms: float | None = None
    p99_within_baseline: bool = False  # ours' p99 <= the baseline's, in the same run

    def met(self, ours: dict[str, Any], ratio: float | None,
            base: dict[str, Any] | None = None) -> bool:
        return ((self.min_ratio is None or (ratio is not None and ratio >= self.min_ratio))
                and (self.min_rps is None or ours["rps"] >= self.min_rps)
                and (self.max_p99_ms is None or ours["p99_ms"] <= self.max_p99_ms)
                and (not self.p99_within_baseline
                     or (base is not None and ours["p99_ms"] <= base["p99_ms"])))


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    systems: tuple[str, ...]  # ours, then the baseline (if any)
    path: str  # requested as is when there is no script (else the script builds the requests)
    connections: int
    script: str | None = None
    goal: Goal | None = None
    unit: str = "req/s"


LABELS = {
    "ours_plain": "ours (cache off)", "ours": "ours",
    "ours_unbatched": "ours (cache off, read coalescing off)", "edge_full": "ours, whole edge",
    "edge_bare": "ours, edge off", "nameko_ping": "nameko `@http` + `RpcProxy`",
    "nameko_catalog": "nameko `@http` + `RpcProxy`",
    "asyncio_pg": "asyncio app on PostgreSQL (asyncpg)",
}


def paths_script(name: str, paths: list[str], tokens: list[str], directory: str) -> str:
    """A wrk script rotating over GET `paths`, each request with the next bearer token (if any)."""
    path = Path(directory) / f"{name}.lua"
    path.write_text(
        f"local paths = {{{','.join(json.dumps(p) for p in paths)}}}\n"
        f"local tokens = {{{','.join(json.dumps(t) for t in tokens)}}}\n"
        "local n = 0\nrequest = function()\n  n = n + 1\n  local headers = nil\n"
        "  if #tokens > 0 then\n"
        "    headers = {[\"Authorization\"] = \"Bearer \" .. tokens[(n % #tokens) + 1]}\n  end\n"
        "  return wrk.format(\"GET\", paths[(n % #paths) + 1], headers)\nend\n")
    return str(path)


def listing_paths(names: list[str], categories: list[str]) -> list[str]:
    """First pages, category pages and full-text searches (one and two words from real names)."""
    words = sorted({w.lower() for name in names for w in name.split() if len(w) > 3})
    paths = ["/products", "/products?limit=50"]
    paths += [f"/products?category={c}" for c in categories]
    paths += [f"/products?q={w}&limit=10" for w in words]
    paths += [f"/products?q={a}%20{b}" for a, b in zip(words, reversed(words), strict=True)]
    return paths


def build(data: dict[str, Any], args: Any, directory: str) -> list[Scenario]:
    """Every scenario, with the scripts written for this run's ids, accounts and tokens."""
    catalog, checkout, auth = module("catalog"), module("checkout"), module("auth_login")
    mix = module("product_mix")
    ids = data["product_ids"]
    all_ids = catalog.lua_script(ids, directory)
    hot_ids = catalog.lua_script(ids[:args.hot], directory)
    c = args.connections
    return [
        Scenario("trivial_rpc", f"trivial RPC (`GET /_bench/ping/{args.service}`)",
                 ("ours_plain", "nameko_ping"), f"/_bench/ping/{args.service}", c,
                 goal=Goal(">= 1.8x nameko `@http`", min_ratio=1.8)),
        Scenario("product_uncached", "product read, uncached (`GET /products/{id}`)",
                 ("ours_plain", "nameko_catalog"), "/products/", c, all_ids,
                 Goal(">= 2.0x nameko `@http`, p99 <= 60 ms", min_ratio=2.0, max_p99_ms=60)),
        # The same reads with ADR 0008's coalescing off: what it is worth, in the same run.
        Scenario("product_unbatched", "product read, uncached, coalescing off",
                 ("ours_unbatched", "nameko_catalog"), "/products/", c, all_ids),
        Scenario("product_cached", "product read, cached (hot ids)", ("ours", "asyncio_pg"),
                 "/products/", c, hot_ids, Goal(">= 0.5x asyncio-PG", min_ratio=0.5)),
        # Random ids over 2 000 products, TTL 1 s: hits and misses mixed, cache on vs off.
        Scenario("product_mix", "product read, hits and misses mixed (cache on / off)",
                 ("ours", "ours_plain"), "/products/", c,
                 mix.lua_script(ids[:mix.MIX_PRODUCTS], directory),
                 Goal("p99 <= cache off's p99", p99_within_baseline=True)),
        # Cache off: with it, most of these first pages would be answered from the cache.
        Scenario("listing_search", "listing + search, uncached (`GET /products?...`)",
                 ("ours_plain",), "/products", 16, paths_script("listing", listing_paths(
                     data["names"], data["categories"]), [], directory)),
        Scenario("login", "login (`POST /auth/login`, Argon2id)", ("ours",), "/auth/login",
                 args.login_connections, auth.lua_script(data["login_emails"], directory),
                 unit="logins/s"),
        Scenario("checkout", "checkout (`POST /payments`), c=16", ("ours",), "/payments", 16,
                 checkout.lua_script(data["customer_tokens"], data["checkout_products"],
                                     directory),
                 Goal(">= 150/s, p99 <= 150 ms at c=16", min_rps=150, max_p99_ms=150),
                 unit="checkouts/s"),
        Scenario("overview", "`GET /me/overview` (3 services)", ("ours",), "/me/overview", 16,
                 paths_script("overview", ["/me/overview"], data["customer_tokens"],
                              directory)),
        Scenario("edge", "edge overhead: whole edge / edge off (cached read)",
                 ("edge_full", "edge_bare"), "/products/", c, hot_ids,
                 Goal(">= 0.9", min_ratio=0.9)),
    ]

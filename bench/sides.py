"""One side of a before/after comparison (bench/compare.py): one commit's suite, on its own vhost,
databases and ports, with its own venv, ready for the product reads and the checkout.

Each side runs the three services and two gateways (`plain`: cache off, for the uncached read;
`cached`: as `make run` starts it with rate limits off, for the cached read and the checkout).
Broker identities follow the side's own code: a commit that has deploy/local/broker_users.py
gets one user per component from it (its own permissions.json); an older one runs every
component as the vhost's `guest`, as it did then.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import tempfile
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import measure
import suite
from refsrc import Source
from scenarios import Scenario, module
from sqlalchemy.engine import make_url

SERVICES = ("auth", "catalog", "payments")
GATEWAYS = {"plain": {"GATEWAY_CACHE_ENABLED": "false"}, "cached": {}}
SCENARIOS = ("product_uncached", "product_cached", "checkout")


@dataclass
class Side:
    name: str
    source: Source
    env: dict[str, str]
    databases: dict[str, str]
    bases: dict[str, str]
    procs: suite.Processes
    clocks: measure.Clocks
    scenarios: dict[str, Scenario]
    checkout_products: list[str]
    identities: str  # "per-component users" or "guest"


def broker_env(source: Source, env: dict[str, str], amqp_uri: str) -> str:
    """Sets `<COMPONENT>_AMQP_URI` in `env` the side's own way; says which way it was."""
    path = source.root / "deploy" / "local" / "broker_users.py"
    if not path.exists():
        return "guest"
    spec = importlib.util.spec_from_file_location(f"broker_users_{id(source)}", path)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    loaded.provision(env, amqp_uri)
    return "per-component users"


def own_identity(env: dict[str, str], component: str) -> dict[str, str]:
    own = env.get(f"{component.upper()}_AMQP_URI")
    return {**env, "AMQP_URI": own} if own else env


def start(procs: suite.Processes, source: Source, env: dict[str, str]) -> dict[str, str]:
    """The services and the gateways of `source`; returns each gateway's base URL."""
    for name in SERVICES:
        procs.start(name, [str(source.bin / "nameko"), "run", "--config",
                           str(source.root / "services" / name / "config.yaml"),
                           f"{name}.service:{name.capitalize()}Service"],
                    own_identity(env, name), cwd=source.root)
    bases = {}
    for name, extra in GATEWAYS.items():
        port = suite.free_port()
        procs.start(f"gateway_{name}", [str(source.python), "-m", "gateway"],
                    {**own_identity(env, "gateway"), **extra, "GATEWAY_HOST": "127.0.0.1",
                     "GATEWAY_PORT": str(port)}, cwd=source.root)
        bases[name] = f"http://127.0.0.1:{port}"
    return bases


def scenarios(ids: list[str], products: list[str], tokens: list[str], args: Any,
              directory: str) -> dict[str, Scenario]:
    """The three workloads of the full harness (bench/scenarios.py), on this side's data."""
    catalog, checkout = module("catalog"), module("checkout")
    return {
        "product_uncached": Scenario("product_uncached", "product read, uncached", ("plain",),
                                     "/products/", args.connections,
                                     catalog.lua_script(ids, directory)),
        "product_cached": Scenario("product_cached", "product read, cached (hot ids)",
                                   ("cached",), "/products/", args.connections,
                                   catalog.lua_script(ids[:args.hot], directory)),
        "checkout": Scenario("checkout", "checkout (`POST /payments`), c=16", ("cached",),
                             "/payments", 16,
                             checkout.lua_script(tokens, products, directory),
                             unit="checkouts/s"),
    }


@contextlib.contextmanager
def running(name: str, source: Source, args: Any, run_name: str,
            say: Callable[[str], None]) -> Iterator[Side]:
    """`source`'s suite, seeded and prepared; everything is stopped and dropped on the way out."""
    checkout = module("checkout")
    python = str(source.python)
    with suite.vhost(f"cmp_{name}") as amqp_uri, \
            suite.databases(SERVICES, f"cmp_{name}", source.root, python) as urls, \
            suite.Processes(f"{run_name}/{name}") as procs, \
            tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_AMQP_URI")}
        identities = broker_env(source, env, amqp_uri)
        env.update({"AMQP_URI": amqp_uri, "RATE_LIMIT_ENABLED": "false",
                    "PYTHONUNBUFFERED": "1", "METRICS_PORT": "0",
                    "PYTHONWARNINGS": "ignore::Warning:nameko.cli.commands",
                    "ADMIN_EMAIL": checkout.ADMIN[0], "ADMIN_PASSWORD": checkout.ADMIN[1],
                    "AUTH_ACCESS_TOKEN_TTL": "3600"})  # tokens outlive the run
        env.pop("VIRTUAL_ENV", None)
        env.update({f"{s.upper()}_DATABASE_URL": url for s, url in urls.items()})
        say(f"{name}: starting {source.label} ({source.commit[:10]}), broker: {identities}")
        bases = start(procs, source, env)
        ids = module("catalog").seed(urls["catalog"], args.products, python)
        suite.wait_http_ok(f"{bases['cached']}/readyz", procs, timeout=180)
        for base in bases.values():
            suite.wait_http_ok(f"{base}/products/{ids[0]}", procs, timeout=120)
        try:
            products, tokens = checkout.prepare_data(bases["cached"], types.SimpleNamespace(
                products=args.checkout_products, customers=args.customers))
        except httpx.HTTPError as exc:
            raise suite.BenchError(f"{name}: preparing accounts and products: {exc}") from exc
        clocks = measure.Clocks(procs, [str(make_url(u).database) for u in urls.values()])
        clocks.pids.pop("redis", None)  # rate limits are off: nothing of ours runs there
        yield Side(name, source, env, urls, bases, procs, clocks,
                   scenarios(ids, products, tokens, args, tmp), products, identities)


def books(side: Side) -> dict[str, Any]:
    """The harness's checkout books (bench/checkout.py), with the side's own reconciliation."""
    return dict(module("checkout").books(side.env, side.databases["payments"],
                                         side.databases["catalog"], side.checkout_products,
                                         str(side.source.python)))


"""Catalog benchmark (issue 5): `GET /products/{id}` on 10 000 seeded products, one run.

1. uncached: our gateway (GATEWAY_CACHE_ENABLED=false) vs the nameko `@http` + `RpcProxy`
   pattern (bench/baselines/nameko_http_catalog.py); both call `catalog.get_product`. The
   catalog's CPU per call comes from these rounds.
2. cached: our gateway (cache on, default TTL) vs an asyncio app reading PostgreSQL directly
   (bench/baselines/asyncio_pg_catalog.py, asyncpg).
3. invalidation: PATCH through gateway A, then poll gateway B (cache on, TTL 60 s so that only
   the event can refresh it) until it serves the new version; p50/p99 over --patches.

wrk -t2 -c32 with a Lua script rotating over --hot product ids (uncached: all 10 000).

    .venv/bin/python bench/catalog.py           # full run; rewrites docs/benchmarks.md#catalog
    .venv/bin/python bench/catalog.py --quick   # smoke run, no doc update
"""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import suite
from common import wrk  # noqa: F401  (part of this module's interface: edge_overhead.py)

PAIRS = {"uncached": ("ours_uncached", "nameko_http"), "cached": ("ours_cached", "asyncio_pg")}
LABELS = {"ours_uncached": "ours, cache off", "nameko_http": "nameko `@http` + `RpcProxy`",
          "ours_cached": "ours, cache on", "asyncio_pg": "asyncio app on PostgreSQL (asyncpg)"}
ADMIN = ("bench-admin@suite.test", "bench-admin-password-1")


def parse_args(argv):
    parser = common.parser(__doc__, connections=32)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--hot", type=int, default=100, help="ids rotated in cached rounds")
    parser.add_argument("--rpc-calls", type=int, help="calls per RPC CPU measurement")
    parser.add_argument("--patches", type=int)
    args = common.defaults(parser.parse_args(argv), rounds=(1, 3), duration=(5.0, 15.0),
                           warmup=(2.0, 5.0))
    args.patches = args.patches or (10 if args.quick else 60)
    args.rpc_calls = args.rpc_calls or (500 if args.quick else 3000)
    return args


def lua_script(ids, directory):
    path = Path(directory) / f"ids-{len(ids)}.lua"
    listing = ",".join(f'"{i}"' for i in ids)
    path.write_text(f"local ids = {{{listing}}}\nlocal n = 0\n"
                    "request = function()\n  n = n + 1\n"
                    "  return wrk.format('GET', '/products/' .. ids[(n % #ids) + 1])\nend\n")
    return str(path)


def start(procs, env, pg_dsn):
    ports = {name: suite.free_port() for name in LABELS} | {"gateway_b": suite.free_port()}
    for service in ("catalog", "auth"):
        procs.start(service, suite.nameko_service(service), env)
    gateway = [sys.executable, "-m", "gateway"]
    procs.start("ours_uncached", gateway, {**env, "GATEWAY_PORT": str(ports["ours_uncached"]),
                                           "GATEWAY_CACHE_ENABLED": "false"})
    procs.start("ours_cached", gateway, {**env, "GATEWAY_PORT": str(ports["ours_cached"])})
    procs.start("gateway_b", gateway, {**env, "GATEWAY_PORT": str(ports["gateway_b"]),
                                       "GATEWAY_CACHE_TTL": "60"})
    procs.start("nameko_http", [str(suite.BIN / "nameko"), "run", "--config",
                                "nameko_http_gateway.yaml",
                                "nameko_http_catalog:NamekoHttpCatalog"],
                {**env, "BENCH_BASELINE_ADDRESS": f"127.0.0.1:{ports['nameko_http']}"},
                cwd=suite.ROOT / "bench" / "baselines")
    procs.start("asyncio_pg", [sys.executable, "-m", "uvicorn", "--factory",
                               "asyncio_pg_catalog:create_app", "--port",
                               str(ports["asyncio_pg"]), "--loop", "uvloop", "--http",
                               "httptools", "--no-access-log", "--log-level", "warning"],
                {**env, "BENCH_PG_DSN": pg_dsn}, cwd=suite.ROOT / "bench" / "baselines")
    return {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}


def rounds(binary, urls, scripts, args, procs, catalog_pid):
    samples = []
    for pair, systems in PAIRS.items():
        for name in systems:
            common.wrk(binary, urls[name], scripts[pair], args.connections, args.warmup)
        for index in range(args.rounds):
            for name in common.abba(index, systems):
                procs.check_alive()
                pids = {"system": procs.children[name].pid, "catalog": catalog_pid}
                cpu = common.cpu_clocks(pids)
                lookups = cache_lookups(urls[name])
                result = common.wrk(binary, urls[name], scripts[pair], args.connections,
                                    args.duration)
                hits, total = (b - a for a, b in zip(lookups, cache_lookups(urls[name]),
                                                     strict=True))
                sample = {"pair": pair, "system": name, **result.__dict__,
                          "hit_ratio": hits / total if total else None,
                          "cpu_ms": {k: 1000 * seconds / max(result.requests, 1)
                                     for k, seconds in common.cpu_spent(pids, cpu).items()}}
                samples.append(sample)
                print(f"bench: {pair} {name:<14} {result.rps:8.1f} req/s p99 "
                      f"{result.p99_ms:.1f} ms errors {result.errors}", flush=True)
    return samples


def cache_lookups(url):
    """(hits, lookups) of product documents so far, from the gateway's /metrics."""
    try:
        text = httpx.get(f"{url}/metrics", timeout=5).text
    except httpx.HTTPError:
        return 0.0, 0.0
    counts = {}
    for line in text.splitlines():
        if line.startswith('gateway_cache_lookups_total{kind="product"'):
            result = line.split('result="', 1)[1].split('"', 1)[0]
            counts[result] = float(line.rsplit(" ", 1)[1])
    return counts.get("hit", 0.0), sum(counts.values())


def rpc_cpu(amqp_uri, catalog_pid, ids, calls, connections):
    """Catalog CPU per call of `ping` (nameko's own floor) and `get_product`, straight over
    AMQP with the gateway's RPC client (no HTTP), `connections` calls in flight, ABAB."""
    import asyncio

    from gateway.rpc import RpcClient

    async def load(method):
        client = RpcClient(amqp_uri, timeout=10)
        await client.start()
        gate = asyncio.Semaphore(connections)

        async def one(k):
            async with gate:
                args = () if method == "ping" else (ids[k % len(ids)],)
                await client.call("catalog", method, *args)
        try:
            await asyncio.gather(*(one(k) for k in range(calls)))
        finally:
            await client.stop()

    found = {"ping": [], "get_product": []}
    for method in ("ping", "get_product", "get_product", "ping"):
        before = suite.cpu_seconds(catalog_pid)
        asyncio.run(load(method))
        found[method].append(1000 * (suite.cpu_seconds(catalog_pid) - before) / calls)
    return {method: statistics.mean(values) for method, values in found.items()}


def invalidation(urls, ids, patches):
    with httpx.Client(timeout=10) as client:
        token = client.post(f"{urls['ours_uncached']}/auth/login",
                            json={"email": ADMIN[0], "password": ADMIN[1]}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        latencies = []
        for pid in ids[:patches]:
            target = f"{urls['gateway_b']}/products/{pid}"
            version = client.get(target).json()["version"]  # cached on B from here
            patched = client.patch(f"{urls['ours_uncached']}/products/{pid}",
                                   json={"price": random.randrange(100, 10_000)}, headers=headers)
            started = time.monotonic()
            patched.raise_for_status()
            while client.get(target).json()["version"] <= version:
                if time.monotonic() - started > 10:
                    raise suite.BenchError("gateway B did not catch up within 10 s")
                time.sleep(0.002)
            latencies.append(1000 * (time.monotonic() - started))
    latencies.sort()
    return {"count": len(latencies), "p50_ms": statistics.median(latencies),
            "p99_ms": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
            "max_ms": latencies[-1]}


def summarise(samples):
    out = {}
    for name in LABELS:
        mine = [s for s in samples if s["system"] == name]
        out[name] = {**common.medians(mine, ("rps", "p50_ms", "p99_ms")),
                     "cpu_ms": {k: statistics.median(s["cpu_ms"][k] for s in mine)
                                for k in mine[0]["cpu_ms"]},
                     "hit_ratio": _median([s["hit_ratio"] for s in mine])}
    return out


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def markdown(summary, latency, rpc, meta):
    rows = ["| system | req/s (median) | p50 ms | p99 ms | errors | cache hits | "
            "CPU ms/req: system | catalog |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, label in LABELS.items():
        s = summary[name]
        catalog = f"{s['cpu_ms']['catalog']:.2f}" if name != "asyncio_pg" else "-"
        hits = f"{100 * s['hit_ratio']:.0f}%" if s["hit_ratio"] is not None else "-"
        rows.append(f"| {label} | {s['rps']:.0f} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} | "
                    f"{s['errors']} | {hits} | {s['cpu_ms']['system']:.2f} | {catalog} |")
    ratio_u = summary["ours_uncached"]["rps"] / summary["nameko_http"]["rps"]
    ratio_c = summary["ours_cached"]["rps"] / summary["asyncio_pg"]["rps"]
    return "\n".join([
        f"`GET /products/{{id}}` on {meta['products']} seeded products, wrk -t2 "
        f"-c{meta['connections']}; uncached rounds rotate over all ids, cached rounds over "
        f"{meta['hot']} hot ids (cache TTL 1 s, events invalidate; 'cache hits' is the share of "
        "product lookups the gateway answered from its cache, from its /metrics).", "",
        f"- Command: `{meta['command']}`",
        f"- Run: {meta['started_utc']}, {meta['minutes']} min; {meta['rounds']} rounds x "
        f"{meta['duration_s']:g} s per system, ABBA order, after {meta['warmup_s']:g} s warm-up; "
        f"code at {meta['source']}",
        f"- Machine: {meta['machine']['nproc']} x {meta['machine']['cpu']}, shared with other "
        f"engineers' test runs (load average at the end: {meta['load']})", "", *rows, "",
        f"**uncached: ours / nameko `@http` = {ratio_u:.2f}x** (goal >= 2.0x, p99 <= 60 ms); "
        f"**cached: ours / asyncio on PostgreSQL = {ratio_c:.2f}x** (goal >= 0.5x).", "",
        f"**Catalog RPC CPU per call** ({meta['rpc_calls']} calls x 2 each, 32 in flight, "
        f"straight over AMQP): `get_product` {rpc['get_product']:.2f} ms, `ping` "
        f"{rpc['ping']:.2f} ms (nameko's own floor), so the catalog's own work is "
        f"{rpc['get_product'] - rpc['ping']:.2f} ms (goal: `get_product` <= 0.6 ms). During "
        f"the uncached HTTP rounds: {summary['ours_uncached']['cpu_ms']['catalog']:.2f} ms "
        "per request.", "",
        f"**Invalidation**: after a PATCH through gateway A, gateway B (cache TTL 60 s, so only "
        f"the event refreshes it) served the new version after p50 {latency['p50_ms']:.0f} ms, "
        f"p99 {latency['p99_ms']:.0f} ms, max {latency['max_ms']:.0f} ms over "
        f"{latency['count']} PATCHes (goal p99 <= 100 ms)."])


def seed(database_url, count, python=sys.executable):
    """`python -m catalog.seed` (a subprocess: this file's name shadows the package here);
    `python`: another commit's, when comparing."""
    subprocess.run([python, "-m", "catalog.seed", str(count), "--no-events",
                    "--random-seed", "5"], env={**suite.os.environ,
                                                 "CATALOG_DATABASE_URL": database_url},
                   check=True, capture_output=True, timeout=600)
    from sqlalchemy import create_engine, text
    engine = create_engine(database_url)
    with engine.connect() as conn:
        ids = [str(i) for i in conn.execute(text("SELECT id FROM products ORDER BY id")).scalars()]
    engine.dispose()
    random.Random(7).shuffle(ids)
    return ids


def collect(binary, args, run_name):
    with suite.vhost() as amqp_uri, suite.database("catalog") as catalog_url, \
            suite.database("auth") as auth_url, suite.Processes(run_name) as procs, \
            tempfile.TemporaryDirectory() as tmp:
        ids = seed(catalog_url, args.products)
        env = {**suite.suite_env(amqp_uri, {"catalog": catalog_url, "auth": auth_url}),
               "ADMIN_EMAIL": ADMIN[0], "ADMIN_PASSWORD": ADMIN[1]}
        pg_dsn = catalog_url.replace("postgresql+psycopg2://", "postgresql://")
        urls = start(procs, env, pg_dsn)
        for name in (*LABELS, "gateway_b"):
            suite.wait_http_ok(f"{urls[name]}/products/{ids[0]}", procs)
        scripts = {"uncached": lua_script(ids, tmp), "cached": lua_script(ids[:args.hot], tmp)}
        samples = rounds(binary, urls, scripts, args, procs, procs.children["catalog"].pid)
        latency = invalidation(urls, ids[args.hot:], args.patches)
        rpc = rpc_cpu(amqp_uri, procs.children["catalog"].pid, ids, args.rpc_calls,
                      args.connections)
    return samples, latency, rpc


def main(argv=None):
    args = parse_args(argv)
    run = common.Run("bench/catalog.py", "catalog", argv)
    measured, failed = run.attempt(collect, args)
    if failed is not None:
        return failed
    samples, latency, rpc = measured
    summary = summarise(samples)
    meta = run.meta(products=args.products, hot=args.hot, connections=args.connections,
                    rounds=args.rounds, duration_s=args.duration, warmup_s=args.warmup,
                    rpc_calls=args.rpc_calls)
    run.finish(args, "catalog", markdown(summary, latency, rpc, meta), meta, summary=summary,
               invalidation=latency, rpc_cpu_ms=rpc, samples=samples)
    return 1 if any(s["errors"] for s in summary.values()) else 0


if __name__ == "__main__":
    sys.exit(main())

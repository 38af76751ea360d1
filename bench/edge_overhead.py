"""Gateway edge overhead (issue 9): what rate limits, metrics, tracing, the breaker and load
shedding cost on the cheapest request, a cached `GET /products/{id}`.

Two `python -m gateway` processes of the same build over one catalog service: `edge on` (the
defaults: per-IP rate limit in the real Redis with a budget too high to refuse anything,
request metrics, tracing, breakers, shedding at 512) and `edge off` (RATE_LIMIT_ENABLED=false,
GATEWAY_METRICS_ENABLED=false, GATEWAY_TRACING_ENABLED=false, GATEWAY_BREAKER_ENABLED=false,
GATEWAY_MAX_INFLIGHT=0). Security headers are on in both (not switchable). wrk -t2 -c32 over
--hot seeded ids, warm-up each, then interleaved rounds in ABBA order; medians. Goal: on / off
>= 0.9 (req/s).

    .venv/bin/python bench/edge_overhead.py          # full run; rewrites its block in
                                                      # docs/benchmarks.md
    .venv/bin/python bench/edge_overhead.py --quick  # smoke run, no doc update
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import suite

from catalog import lua_script, seed

GOAL = 0.9
SYSTEMS = ("edge_on", "edge_off")
LABELS = {"edge_on": "edge on (limits, metrics, tracing, breaker, shedding)",
          "edge_off": "edge off (all of them disabled)"}
EDGE_OFF = {"RATE_LIMIT_ENABLED": "false", "GATEWAY_METRICS_ENABLED": "false",
            "GATEWAY_TRACING_ENABLED": "false", "GATEWAY_BREAKER_ENABLED": "false",
            "GATEWAY_MAX_INFLIGHT": "0"}


def parse_args(argv):
    parser = common.parser(__doc__, connections=32)
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--hot", type=int, default=100)
    return common.defaults(parser.parse_args(argv), rounds=(2, 6), duration=(4.0, 15.0),
                           warmup=(2.0, 5.0))


def start(procs, env):
    procs.start("catalog", suite.nameko_service("catalog"), env)
    ports = {name: suite.free_port() for name in SYSTEMS}
    gateway = [sys.executable, "-m", "gateway"]
    edge_on = {"RATE_LIMIT_ENABLED": "true", "REDIS_PREFIX": suite.unique("bench-edge"),
               "RATE_LIMIT_PER_MINUTE": "1000000000"}
    for name, extra in (("edge_on", edge_on), ("edge_off", EDGE_OFF)):
        procs.start(name, gateway, {**env, **extra, "GATEWAY_PORT": str(ports[name])})
    return {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}


def rounds(binary, urls, script, args, procs):
    samples = []
    for index, name, result, spent in common.interleaved(
            binary, urls, script, args, procs, lambda name: {name: procs.children[name].pid}):
        samples.append({"round": index, "system": name, **result.__dict__,
                        "cpu_ms": 1000 * spent[name] / max(result.requests, 1)})
        print(f"bench: round {index} {name:<9} {result.rps:8.1f} req/s p99 "
              f"{result.p99_ms:.2f} ms errors {result.errors}", flush=True)
    return samples


def summarise(samples):
    out = {}
    for name in SYSTEMS:
        mine = [s for s in samples if s["system"] == name]
        out[name] = common.medians(mine, ("rps", "p50_ms", "p99_ms", "cpu_ms"))
    by_round = {}
    for s in samples:
        by_round.setdefault(s["round"], {})[s["system"]] = s["rps"]
    paired = [r["edge_on"] / r["edge_off"] for r in by_round.values() if len(r) == 2]
    out["ratio"] = out["edge_on"]["rps"] / out["edge_off"]["rps"]
    out["ratio_paired_median"] = statistics.median(paired)
    out["per_round"] = [(round(r["edge_on"]), round(r["edge_off"])) for r in by_round.values()]
    return out


def markdown(summary, meta):
    rows = ["| gateway | req/s (median) | p50 ms | p99 ms | errors | CPU ms/req |",
            "|---|---:|---:|---:|---:|---:|"]
    for name in SYSTEMS:
        s = summary[name]
        rows.append(f"| {LABELS[name]} | {s['rps']:.0f} | {s['p50_ms']:.2f} | "
                    f"{s['p99_ms']:.2f} | {s['errors']} | {s['cpu_ms']:.3f} |")
    met = "met" if summary["ratio"] >= GOAL else "NOT met"
    per_round = ", ".join(f"{on}/{off}" for on, off in summary["per_round"])
    return "\n".join([
        "## Gateway edge overhead (issue 9)", "",
        f"Cached `GET /products/{{id}}` over {meta['hot']} hot ids of {meta['products']} "
        f"seeded products, wrk -t2 -c{meta['connections']}; `edge on` = defaults "
        "(per-IP rate limit in Redis with a budget nothing reaches, request metrics, tracing, "
        "breakers, shedding at 512), `edge off` = " + ", ".join(f"`{k}={v}`" for k, v in
                                                              EDGE_OFF.items()) + ".", "",
        f"- Command: `{meta['command']}`",
        f"- Run: {meta['started_utc']}, {meta['minutes']} min; {meta['rounds']} rounds x "
        f"{meta['duration_s']:g} s per gateway, ABBA order, after {meta['warmup_s']:g} s "
        f"warm-up each; code at {meta['source']}",
        f"- Machine: {meta['machine']['nproc']} x {meta['machine']['cpu']}, shared with other "
        f"engineers' test runs (load average at the end: {meta['load']})", "", *rows, "",
        f"**edge on / edge off = {summary['ratio']:.2f}x** (median req/s over median req/s; "
        f"median of the per-round ratios {summary['ratio_paired_median']:.2f}x). Goal "
        f">= {GOAL}x: {met}.", "", f"Per-round req/s (on/off): {per_round}."])


def collect(binary, args, run_name):
    with suite.vhost() as amqp_uri, suite.database("catalog") as catalog_url, \
            suite.Processes(run_name) as procs, tempfile.TemporaryDirectory() as tmp:
        ids = seed(catalog_url, args.products)
        env = suite.suite_env(amqp_uri, {"catalog": catalog_url})
        urls = start(procs, env)
        for name in SYSTEMS:
            suite.wait_http_ok(f"{urls[name]}/products/{ids[0]}", procs)
        return rounds(binary, urls, lua_script(ids[:args.hot], tmp), args, procs)


def main(argv=None):
    args = parse_args(argv)
    run = common.Run("bench/edge_overhead.py", "edge", argv)
    samples, failed = run.attempt(collect, args)
    if failed is not None:
        return failed
    summary = summarise(samples)
    meta = run.meta(products=args.products, hot=args.hot, connections=args.connections,
                    rounds=args.rounds, duration_s=args.duration, warmup_s=args.warmup)
    run.finish(args, "edge-overhead", markdown(summary, meta), meta, summary=summary,
               samples=samples)
    return 1 if any(summary[name]["errors"] for name in SYSTEMS) else 0


if __name__ == "__main__":
    sys.exit(main())

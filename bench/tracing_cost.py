"""Tracing cost (issue 19): the uncached product read with tracing off, the SDK idle, and on.

Stacks of the same build, each a catalog service and a gateway (`python -m gateway`, cache off,
so every read is an RPC and a SQL query) on a vhost of its own over one seeded database:
- `export off`: the default, no OTLP endpoint, so the SDK is never imported;
- `off, SDK disabled`: an endpoint set but OTEL_SDK_DISABLED=true, the same code path as the
  default: the pair's difference is this run's noise floor;
- `SDK idle`: an endpoint set and OTEL_TRACES_SAMPLER=always_off: the SDK, its provider and the
  psycopg2/redis instrumentations started, nothing sampled or exported;
- `export on`: OTEL_EXPORTER_OTLP_ENDPOINT to an OTLP/HTTP sink in this process that answers
  every export at once, like a collector next door; every request sampled (gateway server span,
  catalog server span and its SQL span).
wrk -t2 -c32 over --products ids, warm-up each, interleaved rounds in ABBA order; medians. The
figure: CPU per request of gateway + catalog (the processes that pay for tracing), each stack
over `export off`. ADR 0024 records the figures.

    .venv/bin/python bench/tracing_cost.py          # full run; rewrites its block in
                                                     # docs/benchmarks.md
    .venv/bin/python bench/tracing_cost.py --quick  # smoke run, no doc update
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import suite

from catalog import lua_script, seed

SYSTEMS = ("export_off", "sdk_disabled", "sdk_idle", "export_on")
LABELS = {"export_off": "tracing off (default: no endpoint, SDK not imported)",
          "sdk_disabled": "off: endpoint set, OTEL_SDK_DISABLED=true (same path: noise floor)",
          "sdk_idle": "SDK started, sampler always_off (nothing recorded)",
          "export_on": "trace export on (OTLP/HTTP, every request sampled)"}
EXTRA_ENV = {"sdk_disabled": {"OTEL_SDK_DISABLED": "true"},
             "sdk_idle": {"OTEL_TRACES_SAMPLER": "always_off"}}
TRACED = ("gateway", "catalog")
BAR = 1.05


class Sink:
    """An OTLP/HTTP endpoint that takes every export and counts it (no decoding: a collector's
    work is not the suite's)."""

    def __init__(self) -> None:
        self.exports = self.bytes = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                sink.bytes += len(self.rfile.read(int(self.headers.get("content-length", 0))))
                sink.exports += 1
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def parse_args(argv):
    parser = common.parser(__doc__, connections=32)
    parser.add_argument("--products", type=int, default=1000)
    return common.defaults(parser.parse_args(argv), rounds=(2, 6), duration=(4.0, 15.0),
                           warmup=(2.0, 5.0))


def start(procs, catalog_url, vhosts, sink):
    urls = {}
    for name in SYSTEMS:
        env = suite.suite_env(vhosts[name], {"catalog": catalog_url})
        env = {k: v for k, v in env.items() if not k.startswith("OTEL_")} | {"METRICS_PORT": "0"}
        if name != "export_off":
            env |= {"OTEL_EXPORTER_OTLP_ENDPOINT": sink.url, "OTEL_BSP_SCHEDULE_DELAY": "1000"}
        env |= EXTRA_ENV.get(name, {})
        port = suite.free_port()
        # Each as its own broker user (the process names are not the components'): the gateway
        # drops RPC replies from any other user.
        own = suite.broker_users.component_env
        procs.start(f"{name}_catalog", suite.nameko_service("catalog"), own(env, "catalog"))
        procs.start(f"{name}_gateway", [sys.executable, "-m", "gateway"], {
            **own(env, "gateway"), "GATEWAY_PORT": str(port), "GATEWAY_CACHE_ENABLED": "false",
            "RATE_LIMIT_ENABLED": "false"})
        urls[name] = f"http://127.0.0.1:{port}"
    return urls


def rounds(binary, urls, script, args, procs):
    samples = []
    for index, name, result, spent in common.interleaved(
            binary, urls, script, args, procs,
            lambda name: {part: procs.children[f"{name}_{part}"].pid for part in TRACED}):
        per_request = {part: 1000 * spent[part] / max(result.requests, 1) for part in TRACED}
        samples.append({"round": index, "system": name, **result.__dict__,
                        "cpu_ms": sum(per_request.values()),
                        **{f"cpu_ms_{part}": ms for part, ms in per_request.items()}})
        print(f"bench: round {index} {name:<10} {result.rps:8.1f} req/s p99 "
              f"{result.p99_ms:.2f} ms cpu {samples[-1]['cpu_ms']:.3f} ms/req "
              f"errors {result.errors}", flush=True)
    return samples


def summarise(samples, sink):
    keys = ("rps", "p50_ms", "p99_ms", "cpu_ms", "cpu_ms_gateway", "cpu_ms_catalog")
    out = {name: common.medians([s for s in samples if s["system"] == name], keys)
           for name in SYSTEMS}
    for name in SYSTEMS:
        out[name]["cpu_ratio"] = out[name]["cpu_ms"] / out["export_off"]["cpu_ms"]
        out[name]["rps_ratio"] = out[name]["rps"] / out["export_off"]["rps"]
    out["cpu_ratio"] = out["export_on"]["cpu_ratio"]
    out["rps_ratio"] = out["export_on"]["rps_ratio"]
    out["exports"], out["exported_bytes"] = sink.exports, sink.bytes
    return out


def markdown(summary, meta):
    rows = ["| stack | req/s (median) | p50 ms | p99 ms | errors | CPU ms/req (gateway + "
            "catalog) | gateway | catalog | CPU / off |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name in SYSTEMS:
        s = summary[name]
        rows.append(f"| {LABELS[name]} | {s['rps']:.0f} | {s['p50_ms']:.2f} | "
                    f"{s['p99_ms']:.2f} | {s['errors']} | {s['cpu_ms']:.3f} | "
                    f"{s['cpu_ms_gateway']:.3f} | {s['cpu_ms_catalog']:.3f} | "
                    f"{s['cpu_ratio']:.3f}x |")
    return "\n".join([
        "## Tracing cost (issue 19)", "",
        f"Uncached `GET /products/{{id}}` over {meta['products']} seeded products, wrk -t2 "
        f"-c{meta['connections']}; each stack its own catalog and gateway (cache off); `export "
        "on` sends every request's spans (gateway, catalog, SQL) over OTLP/HTTP protobuf to a "
        "sink in the bench process; `SDK idle` starts the SDK and its instrumentations but "
        "samples nothing.", "",
        f"- Command: `{meta['command']}`",
        f"- Run: {meta['started_utc']}, {meta['minutes']} min; {meta['rounds']} rounds x "
        f"{meta['duration_s']:g} s per stack, ABBA order, after {meta['warmup_s']:g} s warm-up "
        f"each; code at {meta['source']}",
        f"- Machine: {meta['machine']['nproc']} x {meta['machine']['cpu']}, shared (load "
        f"average at the end: {meta['load']})", "", *rows, "",
        f"**CPU per request, export on / off = {summary['cpu_ratio']:.3f}x**; req/s on / off "
        f"= {summary['rps_ratio']:.3f}x. Tracing off: the SDK-disabled twin / off = "
        f"{summary['sdk_disabled']['cpu_ratio']:.3f}x (the noise floor of this run), SDK idle "
        f"/ off = {summary['sdk_idle']['cpu_ratio']:.3f}x. {summary['exports']} exports "
        f"({summary['exported_bytes'] / 1e6:.1f} MB) reached the sink (only `export on` "
        "records spans)."])


def collect(binary, args, run_name):
    with contextlib.ExitStack() as stack, suite.database("catalog") as catalog_url, \
            suite.Processes(run_name) as procs, tempfile.TemporaryDirectory() as tmp:
        vhosts = {name: stack.enter_context(suite.vhost()) for name in SYSTEMS}
        sink = Sink()
        try:
            ids = seed(catalog_url, args.products)
            urls = start(procs, catalog_url, vhosts, sink)
            for name in SYSTEMS:
                suite.wait_http_ok(f"{urls[name]}/products/{ids[0]}", procs)
            samples = rounds(binary, urls, lua_script(ids, tmp), args, procs)
        finally:
            sink.close()
        if sink.exports == 0:
            raise suite.BenchError("export on: no span reached the sink")
        return samples, sink


def main(argv=None):
    args = parse_args(argv)
    run = common.Run("bench/tracing_cost.py", "tracing", argv)
    collected, failed = run.attempt(collect, args)
    if failed is not None:
        return failed
    samples, sink = collected
    summary = summarise(samples, sink)
    meta = run.meta(products=args.products, connections=args.connections, rounds=args.rounds,
                    duration_s=args.duration, warmup_s=args.warmup)
    run.finish(args, "tracing-cost", markdown(summary, meta), meta, summary=summary,
               samples=samples)
    return 1 if any(summary[name]["errors"] for name in SYSTEMS) else 0


if __name__ == "__main__":
    sys.exit(main())

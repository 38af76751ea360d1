"""`make bench`: our asyncio gateway vs the nameko-examples gateway on one trivial RPC (issue 2).

Starts, in a throwaway vhost and database, the real catalog service (`nameko run`), our gateway
(`python -m gateway` with GATEWAY_BENCH_ROUTES=true) and the baseline (bench/baselines/: a nameko
`@http` service calling catalog through `RpcProxy`), then loads `GET /_bench/ping/catalog` on
each with wrk at c=32: a warm-up, then interleaved rounds (ABBA order). Reports median req/s,
p50/p90/p99, errors, the ours/baseline ratio and CPU ms per request of every process involved.

    .venv/bin/python bench/run.py            # full run; rewrites the figures in docs/benchmarks.md
    .venv/bin/python bench/run.py --quick    # <= 2 min smoke run: fails on errors, never on speed

Exit status: 0 ok, 1 errors seen (non-2xx, socket errors), 2 could not run, 3 below --min-ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report
import suite
from loadgen import run_wrk

GOAL_RATIO = 1.8
SYSTEMS = ("ours", "baseline")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true",
                        help="short smoke run (<= 2 min): fails on errors only; no doc update")
    parser.add_argument("--rounds", type=int, help="measured rounds per system (default 6/2)")
    parser.add_argument("--duration", type=float, help="seconds per wrk run (default 20/8)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds per system (default 10/3)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--service", default="catalog", help="service whose ping is called")
    parser.add_argument("--min-ratio", type=float, default=None,
                        help="exit 3 when ours/baseline is below this (default: never)")
    parser.add_argument("--no-doc", action="store_true", help="don't rewrite docs/benchmarks.md")
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (2 if args.quick else 6)
    args.duration = args.duration or (8.0 if args.quick else 20.0)
    args.warmup = args.warmup if args.warmup is not None else (3.0 if args.quick else 10.0)
    return args


def start_systems(procs: suite.Processes, env: dict[str, str], service: str) -> dict[str, str]:
    """Starts catalog, our gateway and the baseline; returns each gateway's benchmark URL."""
    procs.start(service, suite.nameko_service(service), env)
    ours_port, base_port = suite.free_port(), suite.free_port()
    procs.start("ours", [sys.executable, "-m", "gateway"], {
        **env, "GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": str(ours_port),
        "GATEWAY_BENCH_ROUTES": "true", "RATE_LIMIT_ENABLED": "false"})
    procs.start("baseline", [str(suite.BIN / "nameko"), "run", "--config",
                             "nameko_http_gateway.yaml", "nameko_http_gateway:NamekoHttpGateway"],
                {**env, "BENCH_BASELINE_ADDRESS": f"127.0.0.1:{base_port}"},
                cwd=suite.ROOT / "bench" / "baselines")
    urls = {"ours": f"http://127.0.0.1:{ours_port}/_bench/ping/{service}",
            "baseline": f"http://127.0.0.1:{base_port}/_bench/ping/{service}"}
    for url in urls.values():
        suite.wait_http_ok(url, procs)
    return urls


def measure_once(wrk: str, url: str, args: argparse.Namespace,
                 pids: dict[str, int]) -> dict[str, object]:
    cpu_before = {name: suite.cpu_seconds(pid) for name, pid in pids.items()}
    busy_before = suite.machine_busy_seconds()
    result = run_wrk(wrk, url, args.connections, args.duration)
    busy = suite.machine_busy_seconds() - busy_before
    cpu = {name: suite.cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    cpu["wrk"] = result.wrk_cpu_s
    return {**asdict(result), "cpu_s": cpu, "machine_busy_s": busy}


def run_rounds(wrk: str, urls: dict[str, str], args: argparse.Namespace,
               pids: dict[str, int], procs: suite.Processes) -> list[dict[str, object]]:
    for name in SYSTEMS:
        print(f"bench: warm-up {name} {args.warmup:g} s", flush=True)
        run_wrk(wrk, urls[name], args.connections, args.warmup)
    samples: list[dict[str, object]] = []
    for index in range(args.rounds):
        order = SYSTEMS if index % 2 == 0 else SYSTEMS[::-1]  # ABBA against drift
        for name in order:
            procs.check_alive()
            sample = {"round": index + 1, "system": name,
                      **measure_once(wrk, urls[name], args, pids)}
            samples.append(sample)
            print(f"bench: round {index + 1} {name:<8} {sample['rps']:8.1f} req/s  "
                  f"p50 {sample['p50_ms']:.2f} ms  p99 {sample['p99_ms']:.2f} ms  "
                  f"errors {sample['non_2xx'] + sample['socket_errors']}", flush=True)
    return samples


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    suite.on_signal_raise()
    started, source = time.time(), suite.source_state()
    run_name = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started)) + "-gateway"
    try:
        wrk = suite.ensure_wrk()
        with suite.vhost() as amqp_uri, suite.database(args.service) as db_url, \
                suite.Processes(run_name) as procs:
            env = suite.suite_env(amqp_uri, {args.service: db_url})
            urls = start_systems(procs, env, args.service)
            pids = {name: child.pid for name, child in procs.children.items()}
            broker = suite.broker_pid()
            if broker is not None:
                pids["rabbitmq"] = broker
            samples = run_rounds(wrk, urls, args, pids, procs)
    except suite.BenchError as exc:
        print(f"bench: cannot run: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted; everything started was stopped", file=sys.stderr)
        return 130
    summary = report.summarise(samples, args.service, GOAL_RATIO)
    meta = {"command": report.command_line(sys.argv if argv is None else ["bench/run.py", *argv]),
            "started_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
            "source": source,
            "minutes": round((time.time() - started) / 60, 1), "quick": args.quick,
            "rounds": args.rounds, "duration_s": args.duration, "warmup_s": args.warmup,
            "connections": args.connections, "machine": suite.machine(),
            "versions": suite.versions()}
    result = {"meta": meta, "summary": summary, "samples": samples}
    out = suite.RESULTS / f"{run_name}.json"
    out.write_text(json.dumps(result, indent=2))
    markdown = report.gateway_markdown(result)
    print(markdown)
    print(f"bench: raw samples in {out}")
    if not args.quick and not args.no_doc:
        report.update_doc("gateway", markdown)
        print("bench: figures written to docs/benchmarks.md")
    if summary["errors"]:
        print(f"bench: FAILED: {summary['errors']} errors", file=sys.stderr)
        return 1
    if args.min_ratio is not None and summary["ratio"] < args.min_ratio:
        print(f"bench: ratio {summary['ratio']:.2f} below {args.min_ratio}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())

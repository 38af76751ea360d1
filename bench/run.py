"""`make bench`: the whole suite over HTTP on loopback with wrk, against baselines, in one run.

Starts, on a throwaway vhost and databases (catalog seeded with --products products), the
services, four gateways and three baselines (bench/harness.py), prepares accounts, tokens and
products through the gateway, then loads each scenario (bench/scenarios.py): trivial RPC (ours vs
the nameko-examples `@http` + `RpcProxy` gateway, issue 2), product read uncached (vs the same
pattern on the catalog) and cached (vs an asyncio app reading PostgreSQL), hits and misses
mixed (cache on vs off), listing + search,
login, checkout, /me/overview, and the edge's overhead (whole edge vs edge off). A warm-up per
scenario and system, then interleaved rounds (bench/measure.py); medians, p50/p90/p99, errors,
CPU per request of every process, our/baseline ratios against the issues' goals. Everything it
started is stopped and everything it created is removed, also on failure or Ctrl-C.

    .venv/bin/python bench/run.py            # full run (~10 min); rewrites the doc's summary
    .venv/bin/python bench/run.py --quick    # <= 2 min smoke run: fails on errors, never on speed
    .venv/bin/python bench/run.py --only trivial_rpc --rounds 6 --duration 20 --warmup 10
                                             # issue 2's measurement; rewrites its block
    .venv/bin/python bench/run.py --compare-with df7873d --issue 15
                                             # before/after cost in one run (bench/compare.py)

Exit status: 0 ok, 1 errors seen (non-2xx, socket errors, inconsistent checkout books), 2 could
not run, 3 trivial-RPC ratio below --min-ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare
import harness
import measure
import report
import scenarios
import suite
import summary as summaries
from sqlalchemy.engine import make_url

# Run only when named alone (`--only scale`): their own copies of the suite and data, minutes long.
OPT_IN = ("scale",)
SCENARIOS = ("trivial_rpc", "product_uncached", "product_unbatched", "product_cached",
             "product_mix", "listing_search", "login", "checkout", "overview", "edge")
QUICK = {"rounds": 1, "duration": 3.0, "warmup": 0.0, "products": 1000, "customers": 4,
         "checkout_products": 10, "login_accounts": 4}
FULL = {"rounds": 4, "duration": 10.0, "warmup": 3.0, "products": 10_000, "customers": 16,
        "checkout_products": 50, "login_accounts": 40}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true",
                        help="short smoke run (<= 2 min): fails on errors only; no doc update")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 4, quick 1)")
    parser.add_argument("--duration", type=float, help="seconds per wrk run (default 10/3)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds per run (default 3/0)")
    parser.add_argument("--connections", type=int, default=32,
                        help="connections for the ping and product reads (others: fixed)")
    parser.add_argument("--login-connections", type=int, default=3,
                        help="concurrent sign-ins (keep within the auth hashing queue)")
    parser.add_argument("--products", type=int, help="seeded products (default 10000/1000)")
    parser.add_argument("--hot", type=int, default=100, help="ids rotated in cached reads")
    parser.add_argument("--customers", type=int, help="checkout customers (default 16/4)")
    parser.add_argument("--checkout-products", type=int)
    parser.add_argument("--login-accounts", type=int)
    parser.add_argument("--service", default="catalog", help="service the trivial RPC pings")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(SCENARIOS)}; "
                        f"or one of {','.join(OPT_IN)} alone (bench/<name>.py)")
    parser.add_argument("--min-ratio", type=float, default=None,
                        help="exit 3 when the trivial-RPC ratio is below this (default: never)")
    parser.add_argument("--no-doc", action="store_true", help="don't rewrite docs/benchmarks.md")
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.only = args.only.split(",") if args.only else list(SCENARIOS)
    if unknown := set(args.only) - set(SCENARIOS):
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return args


def execute(args: argparse.Namespace, run_name: str) -> dict[str, Any]:
    """Sets up, measures, tears down; returns the samples (BenchError when it cannot run)."""
    wrk = suite.ensure_wrk()
    checkout = scenarios.module("checkout")
    began = time.monotonic()

    def say(what: str) -> None:
        print(f"bench: [{time.monotonic() - began:5.1f} s] {what}", flush=True)

    say("creating a vhost and the services' databases")
    with suite.vhost() as amqp_uri, suite.databases(harness.SERVICES) as urls, \
            suite.Processes(run_name) as procs, tempfile.TemporaryDirectory() as tmp:
        env = {**suite.suite_env(amqp_uri, urls), "ADMIN_EMAIL": checkout.ADMIN[0],
               "ADMIN_PASSWORD": checkout.ADMIN[1], "METRICS_PORT": "0", "WEB_METRICS_PORT": "0",
               "AUTH_ACCESS_TOKEN_TTL": "3600"}  # tokens outlive the run
        pg_dsn = urls["catalog"].replace("postgresql+psycopg2://", "postgresql://")
        say("starting the services, 5 gateways and 3 baselines")
        bases = harness.launch(procs, env, pg_dsn, run_name)
        say(f"seeding {args.products} products meanwhile")
        ids = scenarios.module("catalog").seed(urls["catalog"], args.products)
        harness.wait_ready(procs, bases, ids[0], args.service)
        say("ready; making accounts, tokens and products through the gateway")
        data = harness.prepare(bases["ours"], args, urls["catalog"], ids)
        chosen = [s for s in scenarios.build(data, args, tmp) if s.key in args.only]
        clocks = measure.Clocks(procs, [str(make_url(u).database) for u in urls.values()])
        say("measuring")
        samples = measure.run_rounds(wrk, chosen, bases, args, procs, clocks)
        books = None
        if "checkout" in args.only:
            say("checking the books of the checkouts")
            books = checkout.books(env, urls["payments"], urls["catalog"],
                                   data["checkout_products"])
        say("stopping everything")
    say("done")
    return {"samples": samples, "scenarios": chosen, "books": books}


def issue2_block(result: dict[str, Any], meta: dict[str, Any], service: str) -> str:
    """The trivial-RPC pair in the format of the issue-2 section (report.gateway_markdown)."""
    names = {"ours_plain": "ours", "nameko_ping": "baseline"}
    samples = []
    for s in result["samples"]:
        if s["scenario"] == "trivial_rpc":
            cpu = dict(s["cpu_s"])
            kept = {"ours": cpu.pop("ours_plain"), "baseline": cpu.pop("nameko_ping"),
                    service: cpu.pop(service), "rabbitmq": cpu.pop("rabbitmq", 0.0),
                    "wrk": cpu.pop("wrk")}
            samples.append({**s, "system": names[s["system"]],
                            "cpu_s": {**kept, "rest": sum(cpu.values())}})
    connections = next(x.connections for x in result["scenarios"] if x.key == "trivial_rpc")
    return report.gateway_markdown({"meta": {**meta, "connections": connections},
                                    "summary": report.summarise(samples, service, 1.8)})


def _opt_in(argv: list[str]) -> str | None:
    """The opt-in scenario `--only` names, if it names one."""
    picker = argparse.ArgumentParser(add_help=False)
    picker.add_argument("--only")
    known, _ = picker.parse_known_args(argv)
    return known.only if known.only in OPT_IN else None


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    if any(a.split("=", 1)[0] == "--compare-with" for a in given):
        return compare.main(given)  # a before/after cost comparison, not the whole harness
    if (opt_in := _opt_in(given)) is not None:  # its own module and options (--only kept)
        return int(scenarios.module(opt_in).main(given, script="bench/run.py"))
    args = parse_args(argv)
    suite.on_signal_raise()
    started, source, load_before = time.time(), suite.source_state(), suite.load_average()
    run_name = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started)) + "-bench"
    result = suite.guarded(lambda: execute(args, f"{run_name}-{uuid.uuid4().hex[:6]}"))
    if isinstance(result, int):
        return result
    chosen = result["scenarios"]
    figures = summaries.summarise(result["samples"], chosen)
    meta = {"command": report.command_line(sys.argv if argv is None else ["bench/run.py", *argv]),
            "started_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
            "minutes": round((time.time() - started) / 60, 1), "source": source,
            "quick": args.quick, "rounds": args.rounds, "duration_s": args.duration,
            "warmup_s": args.warmup, "products": args.products, "machine": suite.machine(),
            "versions": suite.versions(), "load_before": load_before,
            "load_after": suite.load_average(), "books": result["books"]}
    out = suite.RESULTS / f"{run_name}.json"
    out.write_text(json.dumps({"meta": meta, "summary": figures,
                               "samples": result["samples"]}, indent=2))
    text = summaries.markdown(figures, chosen, meta)
    print(text)
    print(f"bench: raw samples and figures in {out}")
    if not args.quick and not args.no_doc:
        # The whole harness writes the summary; the trivial RPC alone, issue 2's own block.
        if len(chosen) == len(SCENARIOS):
            report.update_doc("summary", text)
            print("bench: summary written to docs/benchmarks.md")
        elif args.only == ["trivial_rpc"]:
            report.update_doc("gateway", issue2_block(result, meta, args.service))
            print("bench: issue 2 figures written to docs/benchmarks.md")
    failed = figures["errors"] or (result["books"] is not None
                                   and not result["books"]["consistent"])
    if failed:
        print(f"bench: FAILED: {figures['errors']} errors; books: {result['books']}",
              file=sys.stderr)
        return 1
    trivial = figures.get("trivial_rpc")
    if args.min_ratio is not None and trivial and trivial["ratio"] < args.min_ratio:
        print(f"bench: trivial-RPC ratio {trivial['ratio']:.2f} below {args.min_ratio}",
              file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())

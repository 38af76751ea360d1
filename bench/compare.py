"""Before/after cost in one run: this checkout's suite against another commit's, interleaved.

Issues 15, 16 and 21 ask that a change costs no more than 5 % CPU per request on the product
read and the checkout, "measured in the same run as the code before". This runs both suites at
once, each from its own code and venv (bench/refsrc.py) on its own vhost, databases and ports
(bench/sides.py), and loads the uncached and cached product reads and the checkout on both,
interleaved: within a round every scenario runs on before then after, odd rounds backwards
(ABBA), so the machine's load drifts hit both sides alike. CPU per request counts every
process of a side (services, gateways, its PostgreSQL backends, the RabbitMQ node) but wrk.
Then the checkout books are checked on both sides.

    make bench BENCH_ARGS="--compare-with df7873d --issue 15"   # ~10 min; writes its doc block
    .venv/bin/python bench/run.py --compare-with df7873d --quick  # smoke run, no doc update

Exit status: 0 within the tolerance, 1 errors or inconsistent books, 2 could not run,
4 CPU per request over the tolerance in a scenario.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare_report
import measure
import refsrc
import sides
import suite
from verdict import judge

QUICK = {"rounds": 1, "duration": 3.0, "warmup": 0.0, "products": 1000, "customers": 4,
         "checkout_products": 10}
FULL = {"rounds": 4, "duration": 10.0, "warmup": 3.0, "products": 10_000, "customers": 16,
        "checkout_products": 50}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--compare-with", required=True, metavar="REF",
                        help="the code before: a commit, branch or tag of this repository")
    parser.add_argument("--tolerance", type=float, default=5.0,
                        help="allowed CPU-per-request increase, percent (default 5)")
    parser.add_argument("--issue", help="the issue judged: names the doc block (compare-<n>)")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(sides.SCENARIOS)}")
    parser.add_argument("--quick", action="store_true", help="smoke run; no doc update")
    parser.add_argument("--no-doc", action="store_true", help="don't rewrite docs/benchmarks.md")
    for name in (*FULL, "connections", "hot"):
        parser.add_argument(f"--{name.replace('_', '-')}",
                            type=float if name in ("duration", "warmup") else int)
    args = parser.parse_args(argv)
    for key, value in {**(QUICK if args.quick else FULL), "connections": 32, "hot": 100}.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.only = args.only.split(",") if args.only else list(sides.SCENARIOS)
    if unknown := set(args.only) - set(sides.SCENARIOS):
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return args


def one(wrk: str, side: sides.Side, key: str, seconds: float) -> dict[str, Any]:
    scenario = side.scenarios[key]
    return measure.measure(wrk, scenario, side.name, side.bases[scenario.systems[0]], seconds,
                           side.clocks)


def interleaved(wrk: str, pair: list[sides.Side], args: argparse.Namespace
                ) -> list[dict[str, Any]]:
    """A warm-up of each scenario on each side, then ABBA rounds; every sample."""
    runs = [(key, side) for key in args.only for side in pair]
    for key, side in runs if args.warmup > 0 else []:
        one(wrk, side, key, args.warmup)
    samples = []
    for index in range(args.rounds):
        for key, side in runs if index % 2 == 0 else runs[::-1]:
            for other in pair:
                other.procs.check_alive()
            sample = {**one(wrk, side, key, args.duration), "round": index + 1}
            samples.append(sample)
            print(f"bench: round {index + 1} {key:<16} {side.name:<6} {sample['rps']:8.1f}/s "
                  f"p99 {sample['p99_ms']:8.2f} ms  CPU {compare_report.cpu_ms(sample):6.2f} "
                  f"ms/req  errors {sample['non_2xx'] + sample['socket_errors']}", flush=True)
    return samples


def collect(args: argparse.Namespace, run_name: str) -> dict[str, Any]:
    wrk, began = suite.ensure_wrk(), time.monotonic()

    def say(what: str) -> None:
        print(f"bench: [{time.monotonic() - began:5.1f} s] {what}", flush=True)

    with contextlib.ExitStack() as stack:
        before_code = stack.enter_context(refsrc.checked_out(args.compare_with, say))
        pair = [stack.enter_context(sides.running(name, code, args, run_name, say))
                for name, code in (("before", before_code), ("after", refsrc.this_checkout()))]
        say("measuring, interleaved")
        samples = interleaved(wrk, pair, args)
        books = {}
        if "checkout" in args.only:
            say("checking the books of the checkouts")
            books = {side.name: sides.books(side) for side in pair}
        codes = {side.name: {"label": side.source.label, "commit": side.source.commit,
                             "broker": side.identities} for side in pair}
        say("stopping everything")
    return {"samples": samples, "books": books, "codes": codes}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    suite.on_signal_raise()
    started, load_before = time.time(), suite.load_average()
    run_name = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started)) + "-compare"
    result = suite.guarded(lambda: collect(args, run_name))
    if isinstance(result, int):
        return result
    samples = result["samples"]
    verdicts = {key: judge([s for s in samples if s["scenario"] == key and s["system"] == "before"],
                           [s for s in samples if s["scenario"] == key and s["system"] == "after"],
                           args.tolerance / 100) for key in args.only}
    meta = compare_report.meta(args, argv, started, load_before, result)
    text = compare_report.markdown(verdicts, samples, meta)
    out = suite.RESULTS / f"{run_name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "samples": samples, "verdicts": {
        k: {**v.__dict__, "passed": v.passed} for k, v in verdicts.items()}}, indent=2))
    print(text)
    print(f"bench: raw samples and figures in {out}")
    if not args.quick and not args.no_doc:
        compare_report.update_doc(args, text)
    errors = sum(s["non_2xx"] + s["socket_errors"] for s in samples)
    if errors or not all(b["consistent"] for b in result["books"].values()):
        print(f"bench: FAILED: {errors} errors; books: {result['books']}", file=sys.stderr)
        return 1
    return 0 if all(v.passed for v in verdicts.values()) else 4


if __name__ == "__main__":
    sys.exit(main())

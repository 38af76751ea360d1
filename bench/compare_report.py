"""Markdown and meta data of a before/after comparison (bench/compare.py)."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

import report
import suite
from verdict import LOAD_GENERATOR, Verdict, cpu_ms_per_request

TITLES = {"product_uncached": "product read, uncached (`GET /products/{id}`, c=32)",
          "product_cached": "product read, cached (hot ids, c=32)",
          "checkout": "checkout (`POST /payments`, c=16)"}
PROCESSES = ("gateway_plain", "gateway_cached", "auth", "catalog", "payments", "postgres",
             "rabbitmq")


def cpu_ms(sample: dict[str, Any]) -> float:
    return cpu_ms_per_request([sample])


def meta(args: argparse.Namespace, argv: list[str] | None, started: float, load_before: str,
         result: dict[str, Any]) -> dict[str, Any]:
    samples = result["samples"]
    seconds = sum(s["seconds"] for s in samples)
    ours = sum(v for s in samples for v in s["cpu_s"].values())
    busy = sum(s["machine_busy_s"] for s in samples)
    command = ["bench/run.py", *(sys.argv[1:] if argv is None else argv)]
    return {"command": report.command_line(command), "compare_with": args.compare_with,
            "codes": result["codes"], "books": result["books"],
            "started_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
            "minutes": round((time.time() - started) / 60, 1), "rounds": args.rounds,
            "duration_s": args.duration, "warmup_s": args.warmup, "products": args.products,
            "tolerance_pct": args.tolerance, "quick": args.quick, "machine": suite.machine(),
            "load_before": load_before, "load_after": suite.load_average(),
            # Busy CPU of the whole machine that no process of either side (nor wrk) spent.
            "other_load_cores": (busy - ours) / seconds if seconds else 0.0}


def verdict_table(verdicts: dict[str, Verdict]) -> list[str]:
    rows = ["| scenario | CPU ms/req before | after | after / before | per-round ratios "
            "(median) | without the shared RabbitMQ node | req/s before | after | "
            "after / before | verdict |", "|---|---:|---:|---:|---|---:|---:|---:|---:|---|"]
    for key, v in verdicts.items():
        rounds = ", ".join(f"{r:.3f}" for r in v.cpu_ratio_rounds)
        rows.append(f"| {TITLES[key]} | {v.cpu_before_ms:.2f} | {v.cpu_after_ms:.2f} | "
                    f"**{v.cpu_ratio:.3f}** | {rounds} ({v.cpu_ratio_rounds_median:.3f}) | "
                    f"{v.cpu_ratio_without_broker:.3f} | "
                    f"{v.rps_before:.0f} | {v.rps_after:.0f} | {v.rps_ratio:.3f} | "
                    f"{v.text()} |")
    return rows


def detail_table(samples: list[dict[str, Any]], scenarios: list[str]) -> list[str]:
    rows = ["| scenario | side | req/s per round | p50 ms | p99 ms | errors | CPU ms/req: "
            + " | ".join(PROCESSES) + " |", "|---|---|---|---:|---:|---:|"
            + "---:|" * len(PROCESSES)]
    for key in scenarios:
        for side in ("before", "after"):
            mine = [s for s in samples if s["scenario"] == key and s["system"] == side]
            requests = sum(s["requests"] for s in mine) or 1
            cpu = [1000 * sum(s["cpu_s"].get(p, 0.0) for s in mine) / requests
                   for p in PROCESSES]
            rates = ", ".join(f"{s['rps']:.0f}" for s in mine)
            rows.append(f"| {key} | {side} | {rates} | "
                        f"{statistics.median(s['p50_ms'] for s in mine):.2f} | "
                        f"{statistics.median(s['p99_ms'] for s in mine):.2f} | "
                        f"{sum(s['non_2xx'] + s['socket_errors'] for s in mine)} | "
                        + " | ".join(f"{c:.3f}" for c in cpu) + " |")
    return rows


def conditions(meta: dict[str, Any]) -> list[str]:
    m, codes = meta["machine"], meta["codes"]
    lines = [
        f"- Command: `{meta['command']}`",
        f"- Before: `{meta['compare_with']}` = {codes['before']['commit'][:10]} (broker: "
        f"{codes['before']['broker']}); after: {codes['after']['label']} = "
        f"{codes['after']['commit'][:10]} (broker: {codes['after']['broker']})",
        f"- Run: {meta['started_utc']}, {meta['minutes']} min in all; {meta['rounds']} rounds x "
        f"{meta['duration_s']:g} s per scenario and side, interleaved (before, after; odd rounds "
        f"backwards), after {meta['warmup_s']:g} s warm-up each; wrk -t2; {meta['products']} "
        "seeded products per side",
        f"- Machine: {m['nproc']} x {m['cpu']}, {m['memory']}, Linux {m['kernel']}",
        f"- Load: **taken under load**: other helpers' test suites shared the 2 cores; "
        f"{meta['other_load_cores']:.2f} cores busy on average outside both sides' processes "
        f"and wrk (load average {meta['load_before']} before, {meta['load_after']} after). "
        "The interleaving keeps the ratio fair; absolute rates are low for it.",
    ]
    for side, b in meta["books"].items():
        lines.append(f"- Checkout books, {side}: {b['succeeded_payments']} succeeded payments, "
                     f"{b['charges']} charges, {b['units_sold']} units from stock, ledger "
                     f"reconciles: {'yes' if b['ledger_reconciles'] else 'NO'} -> "
                     f"{'consistent' if b['consistent'] else 'INCONSISTENT'}")
    if meta["quick"]:
        lines.append("- Quick mode: too short for conclusions about cost")
    return lines


def markdown(verdicts: dict[str, Verdict], samples: list[dict[str, Any]],
             meta: dict[str, Any]) -> str:
    return "\n".join([
        *verdict_table(verdicts), "",
        f"CPU per request: every process of the side (services, both gateways, its PostgreSQL "
        f"backends, the RabbitMQ node) but the load generator ({LOAD_GENERATOR}), pooled over "
        f"the rounds. Limit: after / before <= {1 + meta['tolerance_pct'] / 100:.2f}.", "",
        *conditions(meta), "", "Per scenario and side (CPU ms per request of each process; "
        "the idle ones still spend their timers' CPU, which weighs more per request when a "
        "side served fewer requests):", "",
        *detail_table(samples, list(verdicts))])


def update_doc(args: argparse.Namespace, text: str) -> None:
    block = f"compare-{args.issue or args.compare_with}"
    report.update_doc(block, text)
    print(f"bench: figures written to docs/benchmarks.md ({block})")

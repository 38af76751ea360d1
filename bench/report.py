"""Summaries and markdown for the benchmarks; rewrites their blocks in docs/benchmarks.md."""

from __future__ import annotations

import os
import shlex
import statistics
import sys
from pathlib import Path
from typing import Any

from suite import ROOT

DOC = ROOT / "docs" / "benchmarks.md"
BUSY_CORES = 0.3  # other work (cores, on average) above which req/s figures are flagged
LABELS = {"ours": "ours: asyncio gateway (FastAPI, uvicorn, aio-pika)",
          "baseline": "baseline: nameko `@http` + `RpcProxy`"}


def command_line(argv: list[str]) -> str:
    python = Path(sys.executable)
    with_root = [os.path.relpath(python, ROOT) if python.is_relative_to(ROOT) else str(python)]
    script = Path(argv[0]).resolve()
    with_root.append(os.path.relpath(script, ROOT) if script.is_relative_to(ROOT) else argv[0])
    return shlex.join([*with_root, *argv[1:]])


def _ms_per(cpu: float, requests: int) -> float:
    return 1000.0 * cpu / requests if requests else float("nan")


def summarise(samples: list[dict[str, Any]], service: str, goal: float) -> dict[str, Any]:
    systems: dict[str, Any] = {}
    for name in ("ours", "baseline"):
        mine = [s for s in samples if s["system"] == name]
        requests = sum(s["requests"] for s in mine)
        seconds = sum(s["seconds"] for s in mine)
        cpu = {proc: sum(s["cpu_s"][proc] for s in mine) for proc in mine[0]["cpu_s"]}
        busy = sum(s["machine_busy_s"] for s in mine)
        systems[name] = {
            "rps": statistics.median(s["rps"] for s in mine),
            "rps_rounds": [s["rps"] for s in mine],
            **{p: statistics.median(s[p] for s in mine) for p in ("p50_ms", "p90_ms", "p99_ms")},
            "errors": sum(s["non_2xx"] + s["socket_errors"] for s in mine),
            "requests": requests,
            "cpu_ms_per_request": {
                "gateway": _ms_per(cpu[name], requests), service: _ms_per(cpu[service], requests),
                "rabbitmq": _ms_per(cpu.get("rabbitmq", 0.0), requests),
                "wrk": _ms_per(cpu["wrk"], requests)},
            # Busy CPU of the whole machine not spent by any process of this benchmark.
            "other_load_cores": (busy - sum(cpu.values())) / seconds if seconds else 0.0,
        }
    paired = [o["rps"] / b["rps"] for o, b in zip(
        (s for s in samples if s["system"] == "ours"),
        (s for s in samples if s["system"] == "baseline"), strict=True) if b["rps"]]
    for system in systems.values():
        system["cpu_ms_total"] = sum(system["cpu_ms_per_request"].values())
    ours, base = systems["ours"]["rps"], systems["baseline"]["rps"]
    return {"service": service, "systems": systems, "goal": goal,
            "ratio": ours / base if base else float("inf"),
            # Throughput on a CPU-bound machine is cores / CPU per request: the load-robust view.
            "cpu_ratio": systems["baseline"]["cpu_ms_total"] / systems["ours"]["cpu_ms_total"],
            "ratio_paired_median": statistics.median(paired) if paired else float("nan"),
            "errors": systems["ours"]["errors"] + systems["baseline"]["errors"]}


def conditions(meta: dict[str, Any], other_load: float) -> str:
    m, v = meta["machine"], meta["versions"]
    lines = [
        f"- Command: `{meta['command']}` (the trivial-RPC pair of the `make bench` harness)",
        f"- Run: {meta['started_utc']}, {meta['minutes']} min in all; {meta['rounds']} rounds "
        f"x {meta['duration_s']:g} s per system, ABBA order, after {meta['warmup_s']:g} s "
        f"warm-up each; wrk -t2 -c{meta['connections']}; code at {meta['source']}",
        f"- Machine: {m['nproc']} x {m['cpu']}, {m['memory']}, Linux {m['kernel']}",
        "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- Other work on the machine during the rounds: {other_load:.2f} cores busy on average "
        "outside the benchmark's processes (RabbitMQ's share of other vhosts' traffic is "
        "counted in its column, not here)",
    ]
    if meta["quick"]:
        lines.append("- Quick mode: too short for conclusions about speed")
    return "\n".join(lines)


def gateway_markdown(result: dict[str, Any]) -> str:
    meta, summary = result["meta"], result["summary"]
    service, systems = summary["service"], summary["systems"]
    other = statistics.mean(s["other_load_cores"] for s in systems.values())
    head = (f"| gateway | req/s (median) | p50 ms | p90 ms | p99 ms | errors | CPU ms/req: "
            f"gateway | {service} | rabbitmq | wrk |\n|---|---:|---:|---:|---:|---:|---:|---:|"
            "---:|---:|")
    rows = []
    for name, s in systems.items():
        c = s["cpu_ms_per_request"]
        rows.append(f"| {LABELS[name]} | {s['rps']:.0f} | {s['p50_ms']:.2f} | {s['p90_ms']:.2f} "
                    f"| {s['p99_ms']:.2f} | {s['errors']} | {c['gateway']:.2f} | "
                    f"{c[service]:.2f} | {c['rabbitmq']:.2f} | {c['wrk']:.2f} |")
    met = "met" if summary["ratio"] >= summary["goal"] else "NOT met"
    ours_cpu, base_cpu = (systems[n]["cpu_ms_total"] for n in ("ours", "baseline"))
    busy = other > BUSY_CORES
    warning = (f"**Busy machine: {other:.2f} cores of other work on average (more than "
               f"{BUSY_CORES:g}). Every process got a time-slice share, not the CPU it could "
               "use, so req/s and their ratio say little here; CPU per request is the better "
               "guide. Re-run on a quiet machine for the issue's figure.**") if busy else ""
    rounds = "; ".join(f"{n}: " + ", ".join(f"{r:.0f}" for r in s["rps_rounds"])
                       for n, s in systems.items())
    return "\n".join([
        f"`GET /_bench/ping/{service}` (one `{service}.ping` nameko RPC per request), "
        f"{meta['connections']} connections.", "", conditions(meta, other), "", head, *rows, "",
        f"**ours / baseline = {summary['ratio']:.2f}x** (median req/s over median req/s; median "
        f"of the per-round ratios {summary['ratio_paired_median']:.2f}x). Issue 2's goal "
        f">= {summary['goal']:g}x: {met}.", "",
        f"CPU per request, all processes together: ours {ours_cpu:.2f} ms, baseline "
        f"{base_cpu:.2f} ms: baseline / ours = {summary['cpu_ratio']:.2f}x.", "",
        *([warning, ""] if warning else []), f"Per-round req/s: {rounds}."])


def update_doc(block: str, markdown: str) -> None:
    """Replaces the text between this block's markers in docs/benchmarks.md (appends if none)."""
    start, end = f"<!-- generated:{block}:start -->", f"<!-- generated:{block}:end -->"
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    body = f"{start}\n<!-- written by the command below; don't edit by hand -->\n{markdown}\n{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + body + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    DOC.write_text(text)

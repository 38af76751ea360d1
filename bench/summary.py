"""Figures and markdown of `make bench`: medians over rounds, ratios, goals, CPU per request."""

from __future__ import annotations

import statistics
from typing import Any

from scenarios import LABELS, Scenario

CPU_COLUMNS = ("auth", "catalog", "payments", "rabbitmq", "postgres", "redis", "wrk")


def system_figures(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """One system's rounds: medians, errors, CPU per request of each process, other load."""
    requests = sum(s["requests"] for s in samples)
    seconds = sum(s["seconds"] for s in samples)
    cpu = {name: sum(s["cpu_s"][name] for s in samples) for name in samples[0]["cpu_s"]}
    busy = sum(s["machine_busy_s"] for s in samples)
    return {
        "rps": statistics.median(s["rps"] for s in samples),
        "rps_rounds": [round(s["rps"], 1) for s in samples],
        **{p: statistics.median(s[p] for s in samples) for p in ("p50_ms", "p90_ms", "p99_ms")},
        "errors": sum(s["non_2xx"] + s["socket_errors"] for s in samples),
        "requests": requests,
        "cpu_ms_per_request": {name: 1000 * c / requests if requests else float("nan")
                               for name, c in cpu.items()},
        # Every process of the run but the load generator: what one request costs the machine.
        "cpu_ms_total": (1000 * sum(c for name, c in cpu.items() if name != "wrk") / requests
                         if requests else float("nan")),
        # Busy CPU of the whole machine that none of this run's processes spent.
        "other_load_cores": (busy - sum(cpu.values())) / seconds if seconds else 0.0,
    }


def summarise(samples: list[dict[str, Any]], scenarios: list[Scenario]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for scenario in scenarios:
        systems = {name: system_figures([s for s in samples if s["scenario"] == scenario.key
                                  and s["system"] == name]) for name in scenario.systems}
        ours = systems[scenario.systems[0]]
        ratio = paired = cpu_ratio = base = None
        if len(scenario.systems) == 2:
            base = systems[scenario.systems[1]]
            ratio = ours["rps"] / base["rps"] if base["rps"] else float("inf")
            cpu_ratio = base["cpu_ms_total"] / ours["cpu_ms_total"]
            per_round = [a / b for a, b in zip(ours["rps_rounds"], base["rps_rounds"],
                                               strict=True) if b]
            paired = statistics.median(per_round) if per_round else None
        met = scenario.goal.met(ours, ratio, base) if scenario.goal is not None else None
        out[scenario.key] = {"systems": systems, "ratio": ratio, "ratio_paired_median": paired,
                             "cpu_ratio": cpu_ratio, "goal_met": met}
    out["errors"] = sum(sys["errors"] for s in out.values() for sys in s["systems"].values())
    out["other_load_cores"] = statistics.mean(
        s["other_load_cores"] for v in out.values() if isinstance(v, dict)
        for s in v["systems"].values())
    return out


def _figure(s: dict[str, Any], unit: str) -> str:
    return f"{s['rps']:.0f} {unit}, p99 {s['p99_ms']:.0f} ms"


def summary_table(summary: dict[str, Any], scenarios: list[Scenario]) -> list[str]:
    rows = ["| scenario | ours | baseline | ratio | per-round ratios, median | CPU per request, "
            "baseline / ours | goal | met |", "|---|---|---|---:|---:|---:|---|---|"]
    for scenario in scenarios:
        s = summary[scenario.key]
        ours = s["systems"][scenario.systems[0]]
        base = "-"
        if len(scenario.systems) == 2:
            name = scenario.systems[1]
            base = f"{LABELS[name]}: {_figure(s['systems'][name], scenario.unit)}"
        ratios = [f"{s[k]:.2f}x" if s[k] is not None else "-"
                  for k in ("ratio", "ratio_paired_median", "cpu_ratio")]
        goal = scenario.goal.text if scenario.goal else "-"
        met = {None: "-", True: "met", False: "**NOT met**"}[s["goal_met"]]
        rows.append(f"| {scenario.title} | {LABELS[scenario.systems[0]]}: "
                    f"{_figure(ours, scenario.unit)} | {base} | {' | '.join(ratios)} | {goal} | "
                    f"{met} |")
    return rows


def detail_table(summary: dict[str, Any], scenarios: list[Scenario]) -> list[str]:
    rows = ["| scenario | system | c | per s (median) | p50 ms | p90 ms | p99 ms | errors | "
            "CPU ms/req: all | front | " + " | ".join(CPU_COLUMNS) + " | per-round per s |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * len(CPU_COLUMNS)
            + "---|"]
    for scenario in scenarios:
        for name in scenario.systems:
            s = summary[scenario.key]["systems"][name]
            cpu = s["cpu_ms_per_request"]
            others = " | ".join(f"{cpu[c]:.2f}" if c in cpu and c != name else "-"
                                for c in CPU_COLUMNS)
            rows.append(f"| {scenario.key} | {LABELS[name]} (`{name}`) | {scenario.connections} "
                        f"| {s['rps']:.1f} | {s['p50_ms']:.2f} | {s['p90_ms']:.2f} | "
                        f"{s['p99_ms']:.2f} | {s['errors']} | {s['cpu_ms_total']:.2f} | "
                        f"{cpu[name]:.2f} | {others} | "
                        f"{', '.join(f'{r:.0f}' for r in s['rps_rounds'])} |")
    return rows


def markdown(summary: dict[str, Any], scenarios: list[Scenario], meta: dict[str, Any]) -> str:
    m, v = meta["machine"], meta["versions"]
    books = meta.get("books")
    lines = [
        f"- Command: `{meta['command']}`"
        + (" (`make bench`)" if meta["command"].endswith("bench/run.py") else ""),
        f"- Run: {meta['started_utc']}, {meta['minutes']} min in all; {meta['rounds']} "
        f"interleaved rounds (ABBA) x {meta['duration_s']:g} s per scenario and system, after "
        f"{meta['warmup_s']:g} s warm-up each; wrk -t2; {meta['products']} seeded products; "
        f"code at {meta['source']}",
        f"- Machine: {m['nproc']} x {m['cpu']}, {m['memory']}, Linux {m['kernel']}",
        "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- Load: other engineers' test suites ran on the same 2 cores during the run; "
        f"{summary['other_load_cores']:.2f} cores busy on average outside this run's processes "
        f"(load average {meta['load_before']} before, {meta['load_after']} after). Ratios and "
        "CPU per request hold up under such load far better than absolute rates.",
    ]
    if meta["quick"]:
        lines.append("- Quick mode: too short for conclusions about speed")
    if books is not None:
        reconciles = "yes" if books["ledger_reconciles"] else "NO"
        lines.append(f"- Checkout books after the run: {books['succeeded_payments']} succeeded "
                     f"payments, {books['charges']} charges, {books['units_sold']} units taken "
                     f"from stock, ledger reconciles: {reconciles} -> "
                     f"{'consistent' if books['consistent'] else 'INCONSISTENT'}")
    return "\n".join([*summary_table(summary, scenarios), "", *lines, "",
                      "Per scenario and system (CPU ms per request of each process; `front` is "
                      "the process that answers HTTP):", "", *detail_table(summary, scenarios)])

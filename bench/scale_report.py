"""Figures and the docs/benchmarks.md block of the scale scenario (bench/scale.py): per scenario
the medians of each copy and the big/small ratios against issue 18's goals, the relay and
sweeper passes, and the plans of the catalog's reads on the big copy."""

from __future__ import annotations

import statistics
from typing import Any

import common

# Scenario -> (title, goal text, goal met from (p99 ratio, rate ratio)).
SCENARIOS: dict[str, tuple[str, str, Any]] = {
    "product_read": ("product read, uncached (`GET /products/{id}`)", "p99 <= 1.2x",
                     lambda p99, _: p99 <= 1.2),
    "listing": ("listing, uncached (first, 50-item and category pages)", "p99 <= 1.2x",
                lambda p99, _: p99 <= 1.2),
    "search": ("full-text search, uncached (`GET /products?q=...`)", "p99 <= 1.2x",
               lambda p99, _: p99 <= 1.2),
    "checkout": ("checkout (`POST /payments`), c=16", "checkouts/s >= 0.9x",
                 lambda _, rate: rate >= 0.9),
}
WORDS = ("chair", "oak", "rugged", "oak desk")  # the plans EXPLAINed (words of the search mix)


def summarise(samples: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in SCENARIOS:
        sizes = {size: _medians([s for s in samples if s["scenario"] == key
                                 and s["size"] == size]) for size in ("small", "big")}
        p99 = sizes["big"]["p99_ms"] / sizes["small"]["p99_ms"]
        rate = sizes["big"]["rps"] / sizes["small"]["rps"]
        out[key] = {**sizes, "p99_ratio": p99, "rate_ratio": rate,
                    "round_ratios": _round_ratios([s for s in samples if s["scenario"] == key]),
                    "met": bool(SCENARIOS[key][2](p99, rate)),
                    "errors": sizes["small"]["errors"] + sizes["big"]["errors"]}
    return out


def _round_ratios(mine: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """(p99, req/s) big over small of each round: how far the noise moves the medians' ratio."""
    found = []
    for index in sorted({s["round"] for s in mine}):
        pair = {s["size"]: s for s in mine if s["round"] == index}
        found.append((pair["big"]["p99_ms"] / pair["small"]["p99_ms"],
                      pair["big"]["rps"] / pair["small"]["rps"]))
    return found


def _medians(mine: list[dict[str, Any]]) -> dict[str, Any]:
    ratios = [s["buffer_hit_ratio"] for s in mine if s.get("buffer_hit_ratio") is not None]
    return {**common.medians(mine, ("rps", "p50_ms", "p99_ms")),
            "buffer_hit_ratio": statistics.median(ratios) if ratios else None}


def markdown(summary: dict[str, Any], jobs: dict[str, Any], meta: dict[str, Any]) -> str:
    small, big = meta["rows"]["small"], meta["rows"]["big"]
    return "\n".join([
        f"Two copies of the suite side by side, one with {small:,} rows per table, one with "
        f"{big:,} (products, payments, idempotency keys, reservations, outbox and inbox rows, "
        "seeded in bulk into each service's own database); every scenario alternates between "
        "them (ABBA), so each ratio is big/small in the same run.", "",
        f"- Command: `{meta['command']}`",
        f"- Run: {meta['started_utc']}, {meta['minutes']} min; {meta['rounds']} rounds x "
        f"{meta['duration_s']:g} s per copy after {meta['warmup_s']:g} s warm-up; product reads "
        f"wrk -c{meta['connections']} over {meta['sample']:,} random ids, the rest -c16; "
        f"code at {meta['source']}",
        f"- Machine: {meta['machine']['nproc']} x {meta['machine']['cpu']}, shared with other "
        f"engineers' work (load average at the end: {meta['load']})", "",
        *_scenario_rows(summary, small, big), "", *_job_rows(jobs, small, big), "",
        *_plan_lines(jobs["big"]["read_plans"], big)])


def _scenario_rows(summary: dict[str, Any], small: int, big: int) -> list[str]:
    rows = [f"| scenario | {small:,}: req/s | p99 ms | {big:,}: req/s | p99 ms | p99 ratio | "
            "req/s ratio | goal | errors | buffer hits (small / big) | per round: p99, req/s |",
            "|---|---:|---:|---:|---:|---:|---:|---|---:|---|---|"]
    for key, (title, goal, _) in SCENARIOS.items():
        s = summary[key]
        rows.append(f"| {title} | {s['small']['rps']:.0f} | {s['small']['p99_ms']:.1f} | "
                    f"{s['big']['rps']:.0f} | {s['big']['p99_ms']:.1f} | "
                    f"{s['p99_ratio']:.2f} | {s['rate_ratio']:.2f} | {goal}: "
                    f"**{'met' if s['met'] else 'NOT met'}** | {s['errors']} | "
                    f"{_share(s['small'])} / {_share(s['big'])} | "
                    f"{', '.join(f'{p:.2f}x {r:.2f}x' for p, r in s['round_ratios'])} |")
    return rows


def _share(figures: dict[str, Any]) -> str:
    ratio = figures["buffer_hit_ratio"]
    return "-" if ratio is None else f"{100 * ratio:.1f}%"


def _job_rows(jobs: dict[str, Any], small: int, big: int) -> list[str]:
    rows = ["One pass of each timer-driven job, with the services' own code, nothing due "
            "(median of 15, rolled back):", "",
            f"| pass | {small:,} rows: ms | {big:,} rows: ms | ratio | "
            f"plans at {big:,} (EXPLAIN) |",
            "|---|---:|---:|---:|---|"]
    for name, fast in jobs["small"]["ms"].items():
        slow = jobs["big"]["ms"][name]
        plans = "; ".join(f"`{p}`" for p in jobs["big"]["pass_plans"][name])
        rows.append(f"| {name} | {fast:.2f} | {slow:.2f} | {slow / max(fast, 1e-6):.1f} | "
                    f"{plans} |")
    return rows


def _plan_lines(plans: dict[str, Any], big: int) -> list[str]:
    lines = [f"Plans of the catalog's own statements on {big:,} products (EXPLAIN ANALYZE, "
             "first nodes):", ""]
    for name, found in plans.items():
        nodes = [p.strip() for i, p in enumerate(found["plan"]) if i == 0 or "->" in p]
        buffers = next((p.strip() for p in found["plan"] if "Buffers:" in p), "")
        lines.append(f"- {name}: {found['execution']}; "
                     f"{' / '.join(statistics_free(n) for n in nodes[:3])}; top node's {buffers}")
    return lines


def statistics_free(node: str) -> str:
    """A plan node without its cost estimate (the actual times and rows stay)."""
    head, _, rest = node.removeprefix("-> ").partition("(cost=")
    actual = rest.split(") ", 1)[1] if ") " in rest else ""
    return f"`{head.strip()}` {actual}".strip()


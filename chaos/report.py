"""The run's figures: ops by outcome, faults with their recovery times, what the inbox absorbed,
process exits the nemesis did not cause; printed and written as report.json."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson

from chaos.checker import Verdict
from chaos.history import Op
from chaos.nemesis import Record
from chaos.procs import Exit

DUPLICATE_MSG = "payment_succeeded applied: duplicate"
AMBIGUOUS = {"409", "429", "500", "502", "503", "504"}


def absorbed(catalog_log: Path) -> list[str]:
    """Payment ids of payment_succeeded deliveries the catalog's inbox turned away."""
    found: list[str] = []
    # The catalog's replicas (cluster mode) log beside it, as catalog-2.log and so on.
    logs = [catalog_log, *sorted(catalog_log.parent.glob(f"{catalog_log.stem}-*.log"))]
    for line in (b"\n".join(p.read_bytes() for p in logs if p.exists())).splitlines():
        if DUPLICATE_MSG.encode() in line:
            try:
                found.append(str(orjson.loads(line).get("payment_id")))
            except orjson.JSONDecodeError:
                continue
    return found


def first_ok_after(ops: list[Op], t: float) -> float | None:
    ends = [op.end for op in ops if op.kind == "checkout" and op.outcome == "ok"
            and op.start >= t and op.end is not None]
    return round(min(ends) - t, 2) if ends else None


def unexplained_exits(exits: list[Exit], records: list[Record], t0: float) -> list[str]:
    """Exits not inside a fault that killed that process (from its start to 10 s after heal)."""
    killed = [([r.fault.split(":", 1)[1]] if r.fault.startswith("kill:")
               else _names(r.detail.get("killed")), r.start - 1, r.healed + 10) for r in records]
    found = []
    for e in exits:
        at = e.at - t0
        if not any(e.name in names and start <= at <= end for names, start, end in killed):
            found.append(f"{e.name} exited with {e.code} at t={at:.1f}s")
    return found


def failed_during(ops: list[Op], start: float, end: float) -> int:
    """Client operations started in [start, end] with an attempt that failed: a 5xx, a timeout
    or a dropped connection (not a business answer such as 402 or 409)."""
    return sum(1 for op in ops if start <= op.start <= end
               and any(not s.isdigit() or s.startswith("5") for s in op.statuses))


def _names(killed: Any) -> list[str]:
    """A fault's `killed` detail: one process name, or a list of them (the rolling restart)."""
    return [str(n) for n in killed] if isinstance(killed, list) else [str(killed)]


def summarize(ops: list[Op], records: list[Record], verdict: Verdict, extra: dict[str, Any],
              exits: list[Exit], t0: float, catalog_log: Path) -> dict[str, Any]:
    by_kind: dict[str, dict[str, int]] = {}
    for op in ops:
        by_kind.setdefault(op.kind, Counter())[op.outcome] += 1
    statuses = Counter(op.status for op in ops if op.kind == "checkout")
    faults = [{**asdict(r), "first_ok_checkout_after_s": first_ok_after(ops, r.healed),
               # A lost cluster node: the other nodes serve on while it is down.
               **({"first_ok_checkout_after_kill_s": first_ok_after(ops, r.start)}
                  if r.fault == "node" else {}),
               **({"requests_failed_during": failed_during(ops, r.start, r.healed)}
                  if r.fault == "rolling" else {})} for r in records]
    return {
        **extra,
        "ops": {kind: dict(c) for kind, c in by_kind.items()},
        "checkout_final_status": {str(k): v for k, v in statuses.items()},
        "checkout_attempts": sum(op.attempts for op in ops if op.kind == "checkout"),
        "checkouts_retried": sum(1 for op in ops if op.kind == "checkout" and op.attempts > 1),
        # An attempt without a definite answer (timeout, 5xx, dropped, in flight), then one.
        "checkouts_recovered": sum(1 for op in ops if op.kind == "checkout"
                                   and op.outcome != "indeterminate" and _ambiguous(op)),
        "faults": faults,
        "inbox_duplicates_absorbed": len(absorbed(catalog_log)),
        "process_exits": len(exits),
        "unexplained_exits": unexplained_exits(exits, records, t0),
        "stats": verdict.stats,
        "violations": {k: len(v) for k, v in verdict.violations.items()},
        "violation_details": {k: v[:50] for k, v in verdict.violations.items() if v},
        "ok": verdict.ok,
    }


def _ambiguous(op: Op) -> bool:
    """Some attempt before the last one had no definite answer."""
    return any(not s.isdigit() or s in AMBIGUOUS for s in op.statuses[:-1])


def render(summary: dict[str, Any]) -> str:
    lines = [f"ops: {summary['ops']}",
             f"checkout final statuses: {summary['checkout_final_status']}, attempts "
             f"{summary['checkout_attempts']}, retried {summary['checkouts_retried']}, "
             f"recovered from an ambiguous attempt {summary['checkouts_recovered']}",
             f"indeterminate checkouts, as they ended: "
             f"{summary['stats'].get('indeterminate_checkouts')}",
             f"stock totals: {summary['stats'].get('stock')}",
             f"inbox duplicates absorbed: {summary['inbox_duplicates_absorbed']}; process "
             f"exits {summary['process_exits']}, unexplained {summary['unexplained_exits']}",
             f"quiescent after {summary.get('quiescence_s')} s",
             "faults (t = seconds since start; recovery = heal -> /readyz 200; first ok "
             "checkout started after the heal):"]
    lines += [f"  t={f['start']:7.1f}s {f['fault']:<20} held {f['healed'] - f['start']:5.1f} s "
              f"recovery {f['recovery_s']} s, first ok checkout +{f['first_ok_checkout_after_s']}"
              f" s{_cluster(f)} {_short(f['detail'])}" for f in summary["faults"]]
    lines.append(f"violations: {summary['violations']}")
    for kind, details in summary["violation_details"].items():
        lines += [f"  {kind}: {d}" for d in details[:20]]
    lines.append("RESULT: " + ("PASS" if summary["ok"] else "FAIL"))
    return "\n".join(lines)


def _cluster(fault: dict[str, Any]) -> str:
    keys = ("first_ok_checkout_after_kill_s", "requests_failed_during")  # cluster mode's faults
    return "".join(f", {key} {fault[key]}" for key in keys if key in fault)


def _short(detail: dict[str, Any]) -> str:
    return str({k: v for k, v in detail.items() if k != "rpc_reply"}) if detail else ""


def write(path: Path, summary: dict[str, Any]) -> None:
    path.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2, default=str))

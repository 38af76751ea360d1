"""Invariants over the final state: stock is conserved per product and agrees with what
payments says was sold (and given back by restocking refunds)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from chaos.state import Snapshot

if TYPE_CHECKING:
    from chaos.checker import Verdict

CHARGED = {"succeeded", "partially_refunded", "refunded"}
TERMINAL = CHARGED | {"failed"}


def stock(verdict: Verdict, snap: Snapshot, initial: dict[str, int]) -> None:
    sold_by_payments: Counter[str] = Counter()  # units customers kept (not restocked)
    for pid, payment in snap.payments.items():
        if payment.status in CHARGED and not any(r.restock for r in snap.refunds.get(pid, [])):
            for item in payment.items:
                sold_by_payments[item["product_id"]] += int(item["quantity"])
    totals = {"initial": 0, "available": 0, "reserved": 0, "sold": 0}
    for pid, start in initial.items():
        row = snap.products.get(pid)
        if row is None:
            verdict.add("lost", f"product {pid} missing")
            continue
        reserved = sum(r["items"].get(pid, 0) for r in snap.reservations.values()
                       if r["status"] == "active")
        sold = sum(r["items"].get(pid, 0) for r in snap.reservations.values()
                   if r["status"] == "committed" and not r["restocked"])
        available = row.on_hand - row.reserved
        for name, ok in (("initial stock recorded", row.initial == start),
                         ("initial = available + reserved + sold",
                          start == available + row.reserved + sold),
                         ("reserved = active reservations", row.reserved == reserved),
                         ("never negative", available >= 0 and row.reserved >= 0),
                         ("movements add up to on hand", row.movements == row.on_hand),
                         ("catalog sold = paid for", sold == sold_by_payments[pid])):
            if not ok:
                verdict.add("invariant", f"product {pid}: {name} fails (initial {start}, on "
                                         f"hand {row.on_hand}, reserved {row.reserved}, sold "
                                         f"{sold}, paid for {sold_by_payments[pid]})")
        for name, value in (("initial", start), ("available", available),
                            ("reserved", row.reserved), ("sold", sold)):
            totals[name] += value
    verdict.stats["stock"] = totals

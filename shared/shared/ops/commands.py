"""`payments stuck`, `reservations` and `reconcile`: what they print (shared.ops.business reads)."""

from __future__ import annotations

import argparse
from typing import Any

from shared.ops import business, render

DATABASE_ONLY = frozenset({"payments", "reservations", "reconcile"})


def run(args: argparse.Namespace) -> int:
    if args.command == "payments":
        return _stuck(args.older_than, args.json)
    if args.command == "reservations":
        return _reservations(args.expiring_within, args.json)
    return _reconcile(args.json)


def _stuck(older_than: float, as_json: bool) -> int:
    render.progress("reading pending payments")
    rows = business.stuck_payments(older_than)
    render.out(as_json, {"older_than_seconds": older_than, "payments": rows}, lambda: render.table(
        ["PAYMENT", "USER", "AMOUNT", "CREATED", "PENDING FOR (s)"],
        [[r["id"], r["user_id"], f"{r['amount']} {r['currency']}", r["created_at"],
          r["age_seconds"]] for r in rows]) + f"\n{len(rows)} payment(s) pending for more "
        f"than {older_than:g} s")
    return 0


def _reservations(within: float, as_json: bool) -> int:
    render.progress("reading active reservations")
    rows = business.reservations(within)
    overdue = sum(1 for r in rows if r["overdue"])
    render.out(as_json, {"expiring_within_seconds": within, "reservations": rows}, lambda: (
        render.table(["RESERVATION", "EXPIRES AT", "EXPIRES IN (s)", "PRODUCTS", "UNITS"],
                     [[r["id"], r["expires_at"], r["expires_in_seconds"], r["products"],
                       r["units"]] for r in rows])
        + f"\n{len(rows)} active reservation(s), {overdue} past their expiry"))
    return 0


def _reconcile(as_json: bool) -> int:
    render.progress("reconciling the ledger (payments, refunds, ledger entries)")
    result = business.reconcile()
    mismatches: list[dict[str, Any]] = result["mismatches"]
    render.out(as_json, result, lambda: "the ledger balances: no mismatch" if not mismatches
               else render.table(["CHECK", "PAYMENT OR TRANSACTION", "EXPECTED", "ACTUAL"], [
                   [m["check"], m.get("payment_id") or m.get("transaction_id"),
                    m.get("expected"), m.get("actual")] for m in mismatches])
               + f"\n{len(mismatches)} mismatch(es)")
    return 1 if mismatches else 0

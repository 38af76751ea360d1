"""The business side of `suite-ops`: stuck payments, reservations, the ledger reconciliation.

Read-only, and without importing any service's code (services share contracts and shared/
only): pending payments and reservations are read with suite-ops' own SELECTs on the service's
database (`<SVC>_DATABASE_URL`, a read-only role is enough); the reconciliation runs the
payments service's own check, `python -m payments.reconcile`, as a child process, so the
ledger's invariants are written once (the admin RPC and the periodic gauge run the same code).
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import orjson
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from shared.ops import Refusal
from shared.ops.outbox import database_url

LIMIT = 1000

_STUCK = text(
    "SELECT id, user_id, amount, currency, created_at, "
    "extract(epoch FROM now() - created_at) AS age_seconds FROM payments "
    "WHERE status = 'pending' AND created_at < now() - make_interval(secs => :older_than) "
    "ORDER BY created_at LIMIT :limit")
_RESERVATIONS = text(
    "SELECT r.id, r.expires_at, extract(epoch FROM r.expires_at - now()) AS expires_in_seconds, "
    "count(i.product_id) AS products, coalesce(sum(i.quantity), 0) AS units "
    "FROM reservations r LEFT JOIN reservation_items i ON i.reservation_id = r.id "
    "WHERE r.status = 'active' AND r.expires_at < now() + make_interval(secs => :within) "
    "GROUP BY r.id ORDER BY r.expires_at LIMIT :limit")


def _rows(service: str, query: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    engine = create_engine(database_url(service), poolclass=NullPool,
                           connect_args={"connect_timeout": 5,
                                         "options": "-c default_transaction_read_only=on"})
    try:
        with engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query, {**params,
                                                                       "limit": LIMIT})]
    finally:
        engine.dispose()


def stuck_payments(older_than: float) -> list[dict[str, Any]]:
    """Payments pending for more than `older_than` seconds, oldest first."""
    if older_than < 0:
        raise Refusal("--older-than must be 0 or more seconds")
    rows = _rows("payments", _STUCK, {"older_than": older_than})
    return [{**row, "id": str(row["id"]), "user_id": str(row["user_id"]),
             "age_seconds": round(float(row["age_seconds"]), 1)} for row in rows]


def reservations(within: float) -> list[dict[str, Any]]:
    """Active reservations expiring within `within` seconds (overdue ones first)."""
    if within < 0:
        raise Refusal("--expiring-within must be 0 or more seconds")
    rows = _rows("catalog", _RESERVATIONS, {"within": within})
    return [{**row, "expires_in_seconds": round(float(row["expires_in_seconds"]), 1),
             "overdue": float(row["expires_in_seconds"]) < 0, "units": int(row["units"])}
            for row in rows]


def reconcile() -> dict[str, Any]:
    """The payments service's ledger check: {"mismatches": [...], "ok": bool}."""
    env = {**os.environ, "PAYMENTS_DATABASE_URL": database_url("payments")}
    done = subprocess.run([sys.executable, "-m", "payments.reconcile"], env=env,
                          capture_output=True, timeout=3600, check=False)
    if done.returncode not in (0, 1) or not done.stdout.strip():
        # The error's class only: a message can carry a database URL.
        last = (done.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the reconciliation failed ({last.split(':')[0].split('.')[-1]})")
    result: dict[str, Any] = orjson.loads(done.stdout)
    return result

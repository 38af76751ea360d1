"""`suite-ops payments stuck`, `reservations` and `reconcile` on real, migrated databases, run as
operators run it (a subprocess): the rows are exactly the ones these tests write."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from tests.support import infra

SUITE_OPS = Path(sys.executable).parent / "suite-ops"


@pytest.fixture(scope="module")
def databases() -> Iterator[dict[str, Engine]]:
    name = infra.unique("ops_business")
    engines = {}
    try:
        for service in ("payments", "catalog"):
            url = infra.create_database(f"{name}_{service}")
            infra.migrate(service, url)
            engines[service] = create_engine(url)
        yield engines
    finally:
        for engine in engines.values():
            engine.dispose()
        for service in ("payments", "catalog"):
            infra.drop_database(f"{name}_{service}")


@pytest.fixture
def ops(suite_env, databases):
    env = {**suite_env, **{f"{service.upper()}_DATABASE_URL":
                           engine.url.render_as_string(hide_password=False)
                           for service, engine in databases.items()}}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(SUITE_OPS), *args], env=env, capture_output=True,
                              text=True, timeout=120)
    return run


def payment(engine: Engine, status: str, minutes_ago: float) -> str:
    payment_id = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO payments (id, user_id, status, amount, currency, payment_method, items,"
            " created_at) VALUES (:id, :user, :status, 1999, 'USD', 'tok_visa', '[]',"
            " now() - make_interval(mins => :ago))"),
            {"id": payment_id, "user": str(uuid.uuid4()), "status": status, "ago": minutes_ago})
    return payment_id


def reservation(engine: Engine, status: str, expires_in_seconds: float) -> str:
    reservation_id = f"r-{uuid.uuid4().hex[:12]}"
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO reservations (id, status, expires_at) VALUES "
            "(:id, :status, now() + make_interval(secs => :secs))"),
            {"id": reservation_id, "status": status, "secs": expires_in_seconds})
    return reservation_id


def test_payments_stuck_lists_the_payments_pending_longer_than_asked(ops, databases):
    old = payment(databases["payments"], "pending", 30)
    recent = payment(databases["payments"], "pending", 0)
    payment(databases["payments"], "failed", 60)

    done = ops("payments", "stuck", "--older-than", "600", "--json")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    ids = [row["id"] for row in found["payments"]]
    assert old in ids and recent not in ids
    (row,) = [r for r in found["payments"] if r["id"] == old]
    assert row["amount"] == 1999 and row["currency"] == "USD" and row["age_seconds"] >= 1790

    human = ops("payments", "stuck")  # default: pending for more than 300 s
    assert human.returncode == 0 and old in human.stdout and recent not in human.stdout
    assert "payment(s) pending for more than 300 s" in human.stdout
    assert done.stderr == ""  # no progress line outside a terminal


def test_reservations_lists_the_active_ones_expiring_soon_overdue_first(ops, databases):
    catalog = databases["catalog"]
    overdue = reservation(catalog, "active", -120)
    soon = reservation(catalog, "active", 30)
    later = reservation(catalog, "active", 3600)
    done_one = reservation(catalog, "committed", -600)

    found = json.loads(ops("reservations", "--expiring-within", "60", "--json").stdout)
    rows = {row["id"]: row for row in found["reservations"]}
    assert overdue in rows and soon in rows and later not in rows and done_one not in rows
    assert rows[overdue]["overdue"] and not rows[soon]["overdue"]
    order = [row["id"] for row in found["reservations"]]
    assert order.index(overdue) < order.index(soon)

    everything = ops("reservations")
    assert everything.returncode == 0 and later in everything.stdout
    assert "past their expiry" in everything.stdout


def test_reconcile_exits_1_on_a_mismatch_and_names_it(ops, databases):
    with databases["payments"].begin() as conn:
        conn.execute(text("DELETE FROM payments"))
    clean = ops("reconcile", "--json")
    assert clean.returncode == 0, clean.stderr
    assert json.loads(clean.stdout) == {"mismatches": [], "ok": True}
    assert ops("reconcile").stdout.strip() == "the ledger balances: no mismatch"

    broken = payment(databases["payments"], "succeeded", 1)  # captured, yet nothing in the ledger
    done = ops("reconcile", "--json")
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert not result["ok"] and broken in {m.get("payment_id") for m in result["mismatches"]}
    human = ops("reconcile")
    assert human.returncode == 1 and broken in human.stdout and "mismatch(es)" in human.stdout


def test_an_unreachable_database_is_one_line_without_the_url(suite_env):
    env = {**suite_env, "PAYMENTS_DATABASE_URL":
           "postgresql+psycopg2://ops:s3cret@127.0.0.1:1/payments"}
    for command in (["payments", "stuck"], ["reconcile"]):
        done = subprocess.run([str(SUITE_OPS), *command], env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.startswith("suite-ops: ") and "s3cret" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


def test_a_negative_age_is_refused(ops):
    done = ops("payments", "stuck", "--older-than", "-5")
    assert done.returncode == 2 and "--older-than" in done.stderr

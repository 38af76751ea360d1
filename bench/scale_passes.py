"""Timing of one pass of each timer-driven job, with the services' own code, and the plans of the
catalog's reads, for the scale scenario (bench/scale.py). Prints JSON.

    python bench/scale_passes.py passes  <CATALOG_DATABASE_URL> <PAYMENTS_DATABASE_URL>
    python bench/scale_passes.py explain <CATALOG_DATABASE_URL> <search words...>

Every pass runs in a transaction that is rolled back (the relay's: a publisher that confirms
nothing), so the timing changes no data. Run as a script: bench/ leaves sys.path first, since
bench/catalog.py would shadow `catalog`.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from sqlalchemy import Engine, event, text  # noqa: E402

from catalog import reservations  # noqa: E402
from catalog.postgres import PostgresStore as CatalogStore  # noqa: E402
from catalog.postgres.reads import page_statement, search_statement  # noqa: E402
from payments.config import settings as payments_settings  # noqa: E402
from payments.postgres import PostgresStore as PaymentsStore  # noqa: E402
from shared.db import UnitOfWorkFactory, make_engine  # noqa: E402
from shared.messaging.relay import Relay  # noqa: E402
from shared.wire import utcnow  # noqa: E402

REPEATS = 15


class _Rollback(Exception):
    """Raised at the end of a timed pass so that its transaction is rolled back."""


class _ConfirmsNothing:
    """The relay's publisher: any claimed row stays unpublished (and is left to the real relay)."""

    def publish(self, messages: Sequence[Any]) -> list[bool]:
        return [False] * len(messages)


@contextmanager
def _rolled_back(store: Any) -> Iterator[Any]:
    try:
        with store.transaction() as tx:
            yield tx
            raise _Rollback
    except _Rollback:
        pass


def median_ms(one_pass: Callable[[], object]) -> float:
    one_pass()  # warm: plans cached, pages in memory
    times = []
    for _ in range(REPEATS):
        began = time.perf_counter()
        one_pass()
        times.append(1000 * (time.perf_counter() - began))
    return statistics.median(times)


def plans_of(engine: Engine, one_pass: Callable[[], object]) -> list[str]:
    """The plan (first nodes, no costs) of each statement one pass sends, EXPLAINed afterwards
    with its own parameters (EXPLAIN alone: nothing runs)."""
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in ("SELECT", "DELETE", "UPDATE", "WITH"):
            seen.append((statement, parameters))
    event.listen(engine, "before_cursor_execute", capture)
    try:
        one_pass()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    found, raw = [], engine.raw_connection()
    try:
        cursor = raw.cursor()
        for statement, parameters in seen:
            cursor.execute(f"EXPLAIN {statement}", parameters)
            nodes = [row[0].strip().removeprefix("->").split("  (cost=")[0].strip()
                     for row in cursor.fetchall()]
            found.append(" / ".join(n for n in nodes if "(cost=" not in n)[:200])
    finally:
        raw.rollback()
        raw.close()
    return found


def passes(catalog_url: str, payments_url: str) -> dict[str, dict[str, Any]]:
    engines = {name: make_engine(url, pool_size=2)
               for name, url in (("catalog", catalog_url), ("payments", payments_url))}
    stores = {"catalog": CatalogStore(UnitOfWorkFactory(engines["catalog"])),
              "payments": PaymentsStore(UnitOfWorkFactory(engines["payments"]))}
    relays = {name: Relay(engine, _ConfirmsNothing())  # type: ignore[arg-type]
              for name, engine in engines.items()}
    config = payments_settings()

    def in_tx(store: Any, work: Callable[[Any], object]) -> Callable[[], None]:
        def run() -> None:
            with _rolled_back(store) as tx:
                work(tx)
        return run

    jobs: dict[str, Callable[[], object]] = {
        "payments: outbox relay pass": relays["payments"].publish_pending,
        "payments: outbox/inbox pruning": relays["payments"].prune,
        "payments: abandoned-request sweep": in_tx(stores["payments"], lambda tx: (
            tx.keys.claim_abandoned(20, config.lease_seconds))),
        "payments: idempotency-key pruning": in_tx(stores["payments"], lambda tx: (
            tx.keys.prune(config.key_retention_hours))),
        "catalog: outbox relay pass": relays["catalog"].publish_pending,
        "catalog: outbox/inbox pruning": relays["catalog"].prune,
        "catalog: reservation expiry": in_tx(stores["catalog"], lambda tx: (
            reservations.expire_due(tx, utcnow(), reservations.SWEEP_BATCH))),
    }
    owners = {name: engines[name.split(":", 1)[0]] for name in jobs}
    try:
        return {"ms": {name: median_ms(job) for name, job in jobs.items()},
                "pass_plans": {name: plans_of(owners[name], job) for name, job in jobs.items()}}
    finally:
        for engine in engines.values():
            engine.dispose()


def explain(catalog_url: str, words: list[str]) -> dict[str, dict[str, Any]]:
    """EXPLAIN ANALYZE of the catalog's own read statements: the plan's first lines and time."""
    statements = {"listing": page_statement(20, None, None),
                  "category listing": page_statement(20, None, "kitchen")}
    statements |= {f"search '{w}'": search_statement(w, 10, None, None) for w in words}
    engine = make_engine(catalog_url, pool_size=1)
    try:
        with engine.connect() as conn:
            some_id = conn.execute(text("SELECT id FROM products LIMIT 1")).scalar_one()
            found = {name: _plan(engine, statement) for name, statement in statements.items()}
            found["product read"] = _plan(engine, text(
                f"SELECT * FROM products WHERE id = '{uuid.UUID(str(some_id))}'"))
    finally:
        engine.dispose()
    return found


def _plan(engine: Engine, statement: Any) -> dict[str, Any]:
    sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        lines = list(conn.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")).scalars())
    timing = [line for line in lines if line.startswith("Execution Time")]
    return {"plan": lines[:12], "execution": timing[0] if timing else None}


if __name__ == "__main__":
    if sys.argv[1] == "passes":
        print(json.dumps(passes(sys.argv[2], sys.argv[3])))
    else:
        print(json.dumps(explain(sys.argv[2], sys.argv[3:])))

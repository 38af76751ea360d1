"""Bulk data for the scale scenario (bench/scale.py): products, committed reservations and inbox
rows in the catalog's own database; payments, idempotency keys and published outbox rows in the
payments' own; each table with one `INSERT ... SELECT generate_series`, never through the API.

    python bench/scale_seed.py catalog  <CATALOG_DATABASE_URL>  <rows>
    python bench/scale_seed.py payments <PAYMENTS_DATABASE_URL> <rows>

A table's secondary indexes are dropped for the insert and built again afterwards (as
pg_restore does): a GIN index kept up row by row makes a million inserts several times slower.
Names and descriptions use `catalog.seed`'s vocabulary, so searches match as in `make bench`.
Run as a script: bench/ leaves sys.path first, since bench/catalog.py would shadow `catalog`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from sqlalchemy import Connection, create_engine, text  # noqa: E402

from catalog.seed import ADJECTIVES, CATEGORIES, COLORS, MATERIALS, USES  # noqa: E402

# Each word list is indexed by a different multiple of the row number, so that combinations vary.
_PICK = "(:{name})[1 + ((g::bigint * {step}) % cardinality(:{name}))]"

PRODUCTS = f"""
INSERT INTO products (id, sku, name, description, category, price, currency, on_hand,
                      created_at, updated_at)
SELECT gen_random_uuid(), 'SCALE-' || g, initcap(w.adjective) || ' ' || w.material || ' ' || w.noun,
       'A ' || w.adjective || ' ' || w.noun || ' in ' || w.color || ' ' || w.material ||
       ', made for ' || w.use || '. Built to last, easy to care for, and backed by a two-year'
       || ' warranty.', w.category,
       99 + w.low + 100 * ((g::bigint * 104729) % ((w.high - w.low) / 100)),
       'USD', (g * 7) % 500, now() - g * interval '1 second', now() - g * interval '1 second'
FROM generate_series(1, :rows) AS g,
LATERAL (SELECT {_PICK.format(name="adjectives", step=7)} AS adjective,
                {_PICK.format(name="materials", step=13)} AS material,
                {_PICK.format(name="colors", step=17)} AS color,
                {_PICK.format(name="uses", step=19)} AS use,
                {_PICK.format(name="nouns", step=1)} AS noun,
                {_PICK.format(name="categories", step=1)} AS category,
                {_PICK.format(name="lows", step=1)} AS low,
                {_PICK.format(name="highs", step=1)} AS high) AS w
"""

# One completed checkout per row: the key, its payment and its published payment_succeeded.
_ROW = """SELECT g, md5('pay' || g)::uuid AS pid, md5('user' || (g % 10000))::uuid AS uid,
                 now() - (g % 86400) * interval '1 second' AS at
          FROM generate_series(1, :rows) AS g"""
PAYMENTS = f"""
INSERT INTO payments (id, user_id, status, amount, currency, payment_method, items, charge_id,
                      created_at, updated_at)
SELECT pid, uid, 'succeeded', 1999, 'USD', 'tok_visa',
       jsonb_build_array(jsonb_build_object('product_id', md5('product' || g % 50)::uuid,
                                            'quantity', 1, 'unit_price', 1999)),
       'ch_scale_' || g, at, at FROM ({_ROW}) AS r
"""
KEYS = f"""
INSERT INTO idempotency_keys (user_id, key, kind, fingerprint, request, state, resource_id,
                              status_code, body, locked_until, created_at, completed_at)
SELECT uid, 'scale-' || g, 'checkout', md5('request' || g), '{{}}'::jsonb, 'completed', pid, 201,
       jsonb_build_object('id', pid, 'status', 'succeeded'), at, at, at FROM ({_ROW}) AS r
"""
OUTBOX = f"""
INSERT INTO outbox (event_id, exchange, event_type, payload, created_at, published_at, attempts)
SELECT md5('event' || g)::uuid, 'payments', 'payment_succeeded',
       jsonb_build_object('payment_id', pid, 'user_id', uid), at, at, 1 FROM ({_ROW}) AS r
"""
# The catalog's side of the same checkouts: committed reservations, applied payment events.
RESERVATIONS = f"""
INSERT INTO reservations (id, status, expires_at, created_at, updated_at)
SELECT pid::text, 'committed', at + interval '15 minutes', at, at FROM ({_ROW}) AS r
"""
INBOX = f"""
INSERT INTO inbox (handler, message_id, processed_at, result)
SELECT 'payments.payment_succeeded', md5('event' || g)::uuid::text, at, 'committed'
FROM ({_ROW}) AS r
"""


def vocabulary() -> dict[str, list[object]]:
    pairs = [(category, noun, low, high) for category, (nouns, low, high)
             in sorted(CATEGORIES.items()) for noun in nouns]
    return {"adjectives": ADJECTIVES, "materials": MATERIALS, "colors": COLORS, "uses": USES,
            "categories": [p[0] for p in pairs], "nouns": [p[1] for p in pairs],
            "lows": [p[2] for p in pairs], "highs": [p[3] for p in pairs]}


def bulk_insert(conn: Connection, table: str, sql: str, params: dict[str, object]) -> None:
    """`sql` with the table's secondary indexes dropped, then rebuilt from their own DDL."""
    indexes = conn.execute(text(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = :t AND NOT EXISTS"
        " (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"), {"t": table}).all()
    for name, _ in indexes:
        conn.execute(text(f'DROP INDEX "{name}"'))
    conn.execute(text(sql), params)
    for _, ddl in indexes:
        conn.execute(text(ddl))


def seed(service: str, url: str, rows: int) -> None:
    plan = {"catalog": [("products", PRODUCTS, vocabulary()), ("reservations", RESERVATIONS, {}),
                        ("inbox", INBOX, {})],
            "payments": [("payments", PAYMENTS, {}), ("idempotency_keys", KEYS, {}),
                         ("outbox", OUTBOX, {})]}[service]
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
            conn.execute(text("SET LOCAL synchronous_commit = off"))
            for table, sql, params in plan:
                bulk_insert(conn, table, sql, {**params, "rows": rows})
        # As an old table would be: hint bits set, visibility map and statistics current (a
        # fresh load's first reads otherwise dirty every page they touch).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table, _, _ in plan:
                conn.execute(text(f'VACUUM (FREEZE, ANALYZE) "{table}"'))
    finally:
        engine.dispose()


if __name__ == "__main__":
    began = time.monotonic()
    seed(sys.argv[1], sys.argv[2], int(sys.argv[3]))
    print(f"seeded {sys.argv[3]} rows in {sys.argv[1]} in {time.monotonic() - began:.1f} s")

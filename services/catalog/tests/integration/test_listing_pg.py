"""Listing, search and the indexes behind them, on real PostgreSQL."""

from __future__ import annotations

import random
import threading
import uuid

import pytest
from sqlalchemy import text

from catalog import seed, use_cases
from catalog.postgres import products, reads
from catalog.schemas import ListQuery


def walk(reader, **query):
    seen, cursor = [], None
    while True:
        page = use_cases.list_products(reader, ListQuery(cursor=cursor, **query))
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


def test_pagination_walks_every_product_once_while_inserts_happen(engine, reader, category):
    original = {str(pid) for pid in seed.seed(engine, 120, events=False, category=category)}
    stop, inserted = threading.Event(), []

    def insert_meanwhile():
        while not stop.is_set() and len(inserted) < 200:
            inserted.extend(str(p) for p in seed.seed(engine, 3, events=False,
                                                      category=category))

    writer = threading.Thread(target=insert_meanwhile)
    writer.start()
    try:
        seen = []
        cursor = None
        while True:
            page = use_cases.list_products(reader, ListQuery(limit=7, cursor=cursor,
                                                             category=category))
            seen += [p["id"] for p in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    finally:
        stop.set()
        writer.join(30)
    assert inserted, "the writer inserted nothing while the walk ran"
    assert len(seen) == len(set(seen)), "a product was listed twice"
    assert original <= set(seen), "a product that existed before the walk was skipped"
    assert set(seen) <= original | set(inserted)


def test_search_finds_words_in_name_or_description_ranked(make_product, reader, category):
    tag = uuid.uuid4().hex[:8]
    in_name = make_product(name=f"Zyxwv{tag} lantern", category=category)
    in_text = make_product(description=f"Pairs well with a zyxwv{tag} lanterns set",
                           category=category)
    make_product(name="Unrelated", description="nothing to see", category=category)
    found = walk(reader, q=f"zyxwv{tag} lantern", limit=1)
    assert found == [in_name["id"], in_text["id"]]  # name matches rank first
    assert walk(reader, q=f"lanterns zyxwv{tag}", category=category) == found
    assert walk(reader, q=f"zyxwv{tag}", category="elsewhere") == []


def test_deleted_products_leave_listing_and_search(make_product, reader, new_tx, category):
    gone = make_product(name="Vanishing teapot", category=category)
    with new_tx() as tx:
        use_cases.delete_product(tx, uuid.UUID(gone["id"]))
    assert walk(reader, category=category) == []
    assert gone["id"] not in walk(reader, q="vanishing teapot")


# Plans are checked on the repository's own statements, on a table with enough rows (>= 5 000,
# plus a rare category) and fresh statistics, so the planner picks the indexes by itself:
# no `enable_seqscan = off` here.
RARE = "rare-explain-category"


@pytest.fixture(scope="module")
def many_rows(engine):
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM products")).scalar_one()
        rare = conn.execute(text("SELECT count(*) FROM products WHERE category = :c"),
                            {"c": RARE}).scalar_one()
    if count < 5000:
        seed.seed(engine, 5000 - count, events=False, rng=random.Random(5))
    if rare < 30:
        seed.seed(engine, 30, events=False, category=RARE)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE products"))


def plan(engine, statement):
    compiled = statement.compile(dialect=engine.dialect)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).scalars().all()
    return "\n".join(rows)


def keyset(engine):
    with engine.connect() as conn:
        return tuple(conn.execute(text(
            "SELECT created_at, id FROM products WHERE deleted_at IS NULL "
            "ORDER BY created_at DESC, id DESC OFFSET 100 LIMIT 1")).one())


def test_listing_pages_come_from_the_listing_index_in_order(engine, many_rows):
    for after in (None, keyset(engine)):
        found = plan(engine, reads.page_statement(20, after, None))
        assert "Index Scan using ix_products_listing" in found, found
        assert "Sort" not in found and "Seq Scan" not in found, found


def test_category_pages_come_from_an_index_in_order(engine, many_rows):
    found = plan(engine, reads.page_statement(20, None, RARE))
    assert "ix_products_category_listing" in found, found
    # A common category may be served from the listing index, filtered: still no sort or scan.
    common = plan(engine, reads.page_statement(20, keyset(engine), "kitchen"))
    assert "Index Scan" in common and "Sort" not in common and "Seq Scan" not in common, common


def test_search_goes_through_the_gin_index(engine, many_rows):
    for after in (None, (0.5, uuid.uuid4())):
        found = plan(engine, reads.search_statement("walnut bookshelf", 20, after, None))
        assert "Bitmap Index Scan on ix_products_search" in found, found
        assert "Seq Scan" not in found, found


def test_product_by_id_uses_the_primary_key(engine, many_rows):
    found = plan(engine, products._BY_ID.params(id=uuid.uuid4()))
    assert "products_pkey" in found and "Seq Scan" not in found, found


def test_get_products_in_the_order_asked_unknown_left_out_deleted_flagged(new_tx, reader,
                                                                         make_product):
    a, b = make_product(stock=3), make_product(price=250)
    with new_tx() as tx:
        use_cases.delete_product(tx, uuid.UUID(b["id"]))
    ids = [uuid.UUID(b["id"]), uuid.uuid4(), uuid.UUID(a["id"])]
    found = use_cases.get_products(reader, ids)
    assert [(p["id"], p["price"], p["available"], p["deleted"]) for p in found] == [
        (b["id"], 250, 0, True), (a["id"], 1000, 3, False)]
    assert found[1] == use_cases.get_product(reader, uuid.UUID(a["id"]))
    assert use_cases.get_products(reader, []) == []

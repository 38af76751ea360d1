"""shared.db.UnitOfWork against a real (throwaway) PostgreSQL database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from shared.db import UnitOfWork, UnitOfWorkFactory, make_engine


class Boom(Exception):
    pass


@pytest.fixture
def engine(database_urls: dict[str, str]) -> Iterator[Engine]:
    engine = make_engine(database_urls["catalog"], pool_size=2)
    yield engine
    engine.dispose()


@pytest.fixture
def table(engine: Engine) -> Iterator[str]:
    """A table of this test's own, so it shares nothing with the service's schema."""
    name = f"uow_probe_{uuid.uuid4().hex[:10]}"
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {name} (id int PRIMARY KEY, note text NOT NULL)"))
    yield name
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {name}"))


def rows(engine: Engine, table: str) -> list[tuple[int, str]]:
    with engine.connect() as conn:  # another connection: sees only committed data
        result = conn.execute(text(f"SELECT id, note FROM {table} ORDER BY id"))
        return [(row.id, row.note) for row in result]


def insert(uow: UnitOfWork, table: str, ident: int, note: str) -> None:
    uow.session.execute(text(f"INSERT INTO {table} (id, note) VALUES (:i, :n)"),
                        {"i": ident, "n": note})


def test_commits_when_the_block_succeeds(engine: Engine, table: str):
    with UnitOfWorkFactory(engine)() as uow:
        insert(uow, table, 1, "kept")
        insert(uow, table, 2, "kept too")

    assert rows(engine, table) == [(1, "kept"), (2, "kept too")]


def test_rolls_back_everything_when_the_block_raises(engine: Engine, table: str):
    with pytest.raises(Boom), UnitOfWorkFactory(engine)() as uow:
        insert(uow, table, 1, "lost")
        uow.session.flush()  # the row reached the server; the rollback must remove it
        raise Boom

    assert rows(engine, table) == []


def test_a_failing_statement_rolls_back_the_earlier_ones(engine: Engine, table: str):
    with pytest.raises(IntegrityError), UnitOfWorkFactory(engine)() as uow:
        insert(uow, table, 1, "first")
        insert(uow, table, 1, "duplicate key")

    assert rows(engine, table) == []


def test_each_unit_is_its_own_transaction(engine: Engine, table: str):
    units = UnitOfWorkFactory(engine)
    with units() as uow:
        insert(uow, table, 1, "committed")
    with pytest.raises(Boom), units() as uow:
        insert(uow, table, 2, "rolled back")
        raise Boom

    assert rows(engine, table) == [(1, "committed")]


def test_connections_go_back_to_the_pool(engine: Engine, table: str):
    units = UnitOfWorkFactory(engine)
    for i in range(5):  # more than pool_size + max_overflow (4) if any leaked
        with pytest.raises(Boom), units() as uow:
            insert(uow, table, i, "x")
            raise Boom
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_the_session_is_only_available_inside_the_block(engine: Engine):
    uow = UnitOfWorkFactory(engine)()
    with pytest.raises(RuntimeError):
        _ = uow.session
    with uow:
        assert uow.session.execute(text("SELECT 1")).scalar() == 1
    with pytest.raises(RuntimeError):
        _ = uow.session


def _kill_pooled_backend(engine: Engine) -> None:
    """Terminate the server side of the (only) pooled connection, as a database restart does."""
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    with make_engine(str(engine.url.render_as_string(hide_password=False)),
                     pool_size=1).connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


def test_an_idle_dead_connection_is_replaced_on_checkout(
        engine: Engine, monkeypatch: pytest.MonkeyPatch):
    import shared.db

    _kill_pooled_backend(engine)
    monkeypatch.setattr(shared.db, "IDLE_PING_SECONDS", 0.0)  # every checkout counts as idle
    with UnitOfWorkFactory(engine)() as uow:
        assert uow.session.execute(text("SELECT 1")).scalar() == 1


def test_a_busy_dead_connection_fails_once_then_the_pool_recovers(engine: Engine):
    from sqlalchemy.exc import OperationalError

    _kill_pooled_backend(engine)  # not idle long enough to be pinged: the statement meets it
    with pytest.raises(OperationalError), UnitOfWorkFactory(engine)() as uow:
        uow.session.execute(text("SELECT 1"))
    with UnitOfWorkFactory(engine)() as uow:
        assert uow.session.execute(text("SELECT 1")).scalar() == 1


def test_autocommit_statements_commit_alone_and_the_pool_gets_a_normal_connection(
        engine: Engine, table: str):
    units = UnitOfWorkFactory(engine)
    with units.autocommit() as conn:
        conn.execute(text(f"INSERT INTO {table} (id, note) VALUES (1, 'at once')"))
        assert rows(engine, table) == [(1, "at once")]  # visible before the block ends
        with pytest.raises(IntegrityError):
            conn.execute(text(f"INSERT INTO {table} (id, note) VALUES (1, 'dup')"))
    with engine.connect() as a, engine.connect() as b:  # every pooled connection
        assert not a.connection.driver_connection.autocommit  # type: ignore[union-attr]
        assert not b.connection.driver_connection.autocommit  # type: ignore[union-attr]
    with pytest.raises(Boom), units() as uow:  # the next unit of work is a transaction again
        insert(uow, table, 2, "rolled back")
        raise Boom
    assert rows(engine, table) == [(1, "at once")]

"""The refresh-token lock, step by step on two real transactions: no timing luck involved."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import uuid

from sqlalchemy import insert

from auth.model import users
from auth.postgres import PostgresStore
from shared.db import UnitOfWorkFactory, make_engine


def test_a_refresh_that_waited_on_the_lock_sees_the_token_spent_by_the_winner(database_urls):
    engine = make_engine(database_urls["auth"], pool_size=2)
    store = PostgresStore(UnitOfWorkFactory(engine))
    user_id, family_id = uuid.uuid4(), uuid.uuid4()
    token_hash = hashlib.sha256(uuid.uuid4().bytes).digest()
    with store.transaction() as tx:
        tx.refresh.session.execute(insert(users).values(
            id=user_id, email=f"{user_id}@lock.test", email_key=f"{user_id}@lock.test",
            password_hash="x", roles=["customer"]))
        tx.refresh.start_family(family_id, user_id)
        tx.refresh.add(token_hash, family_id, dt.datetime.now(dt.UTC) + dt.timedelta(days=1))

    seen_by_loser: list[bool] = []
    loser_locked = threading.Event()

    def loser() -> None:
        with store.transaction() as tx:
            record = tx.refresh.lock(token_hash)  # blocks until the winner commits
            loser_locked.set()
            assert record is not None
            seen_by_loser.append(record.spent)

    with store.transaction() as tx:
        winner = tx.refresh.lock(token_hash)
        assert winner is not None and not winner.spent
        thread = threading.Thread(target=loser)
        thread.start()
        assert not loser_locked.wait(1.0), "the second refresh must wait for the first"
        tx.refresh.spend(token_hash)
    thread.join(30)
    engine.dispose()
    assert seen_by_loser == [True]

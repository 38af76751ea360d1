"""The inbox claim against PostgreSQL: once per handler, gone with a rollback, and a concurrent
duplicate waits for the first."""

from __future__ import annotations

import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from msgtables import inbox, metadata

from shared.db import UnitOfWorkFactory, make_engine
from shared.messaging.inbox import claim
from tests.support import infra


@pytest.fixture
def uows():
    name = infra.unique("inbox")
    engine = make_engine(infra.create_database(name), pool_size=4)
    try:
        metadata.create_all(engine)
        yield UnitOfWorkFactory(engine)
    finally:
        engine.dispose()
        infra.drop_database(name)


class Boom(Exception):
    pass


def test_claim_is_true_once_per_handler_and_a_rollback_forgets_it(uows):
    message_id = uuid.uuid4()
    with pytest.raises(Boom), uows() as uow:
        assert claim(uow.session, inbox, "svc.handler", message_id)
        raise Boom  # the effect failed: the claim must go with it
    with uows() as uow:
        assert claim(uow.session, inbox, "svc.handler", message_id)
    with uows() as uow:
        assert not claim(uow.session, inbox, "svc.handler", message_id)
        assert claim(uow.session, inbox, "svc.other_handler", message_id)


def test_a_concurrent_duplicate_waits_for_the_first_and_then_skips(uows):
    message_id = uuid.uuid4()
    claimed, release = threading.Event(), threading.Event()
    out: dict[str, bool] = {}

    def first() -> None:
        with uows() as uow:
            out["first"] = claim(uow.session, inbox, "svc.handler", message_id)
            claimed.set()
            release.wait(30)  # holds the row lock while "applying the effect"

    def second() -> None:
        with uows() as uow:
            out["second"] = claim(uow.session, inbox, "svc.handler", message_id)

    a = threading.Thread(target=first)
    a.start()
    assert claimed.wait(30)
    b = threading.Thread(target=second)
    b.start()
    time.sleep(0.5)
    assert b.is_alive()  # blocked on the first delivery's uncommitted claim
    release.set()
    a.join(30)
    b.join(30)
    assert out == {"first": True, "second": False}

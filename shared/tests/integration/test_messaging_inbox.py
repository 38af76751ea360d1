"""The inbox against PostgreSQL: effects applied once, keyed calls get the first result back."""

from __future__ import annotations

import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from msgtables import inbox, metadata

from shared.db import UnitOfWork, UnitOfWorkFactory, make_engine
from shared.messaging.inbox import applies_once, claim, keyed
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


class Event:
    def __init__(self) -> None:
        self.event_id = uuid.uuid4()


def test_a_decorated_use_case_applies_each_event_once(uows):
    applied: list[uuid.UUID] = []

    @applies_once("svc.on_event", inbox)
    def use_case(uow: UnitOfWork, event: Event, note: str) -> str:
        applied.append(event.event_id)
        return note

    first, second = Event(), Event()
    for event in (first, first, second, first):
        with uows() as uow:
            use_case(uow, event, note="x")
    assert applied == [first.event_id, second.event_id]
    with uows() as uow:
        assert use_case(uow, first, "x") is None


def test_a_keyed_call_returns_the_first_result_to_every_retry(uows):
    calls: list[int] = []

    def reserve() -> dict[str, object]:
        calls.append(1)
        return {"reservation_id": f"r-{len(calls)}", "expires_at": "2026-11-22T10:00:00Z"}

    results = []
    for _ in range(3):
        with uows() as uow:
            results.append(keyed(uow.session, inbox, "catalog.reserve_stock", "key-1", reserve))
    assert results == [{"reservation_id": "r-1", "expires_at": "2026-11-22T10:00:00Z"}] * 3
    assert len(calls) == 1


def test_a_keyed_call_that_failed_runs_again_on_retry(uows):
    def fail() -> None:
        raise Boom

    with pytest.raises(Boom), uows() as uow:
        keyed(uow.session, inbox, "catalog.reserve_stock", "key-2", fail)
    with uows() as uow:
        assert keyed(uow.session, inbox, "catalog.reserve_stock", "key-2", lambda: 7) == 7


def test_a_concurrent_duplicate_waits_for_the_first_and_gets_its_result(uows):
    claimed, release = threading.Event(), threading.Event()
    out: dict[str, object] = {}

    def first() -> None:
        with uows() as uow:
            def slow() -> str:
                claimed.set()
                release.wait(30)  # holds the row lock while "working"
                return "first"
            out["first"] = keyed(uow.session, inbox, "svc.call", "same-key", slow)

    def second() -> None:
        with uows() as uow:
            out["second"] = keyed(uow.session, inbox, "svc.call", "same-key", lambda: "second")

    a = threading.Thread(target=first)
    a.start()
    assert claimed.wait(30)
    b = threading.Thread(target=second)
    b.start()
    time.sleep(0.5)
    assert b.is_alive()  # blocked on the first call's uncommitted claim
    release.set()
    a.join(30)
    b.join(30)
    assert out == {"first": "first", "second": "first"}

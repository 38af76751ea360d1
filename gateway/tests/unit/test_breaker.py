"""The circuit breaker's state machine, on a clock the test moves (gateway.breaker)."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from gateway.breaker import Breaker, Breakers, Policy, State
from shared.errors import NotFound, ServiceUnavailable, SuiteError, UpstreamTimeout

POLICY = Policy(failures=3, ratio=0.5, window=10.0, cooldown=5.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def answer(value=None, error: Exception | None = None):
    async def fn():
        if error is not None:
            raise error
        return value

    return fn


def run(breaker: Breaker, value=None, error: Exception | None = None, blame: bool = True):
    async def go():
        return await breaker.call(answer(value, error), blame=lambda: blame)

    return asyncio.run(go())


def fail(breaker: Breaker, error: Exception | None = None) -> None:
    with pytest.raises(SuiteError):
        run(breaker, error=error or UpstreamTimeout("slow"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> Breaker:
    return Breaker("unit-svc", POLICY, clock)


def gauge(service: str) -> float | None:
    return REGISTRY.get_sample_value("gateway_circuit_breaker_state", {"service": service})


def test_opens_after_the_threshold_of_timeouts_and_unavailability(breaker: Breaker):
    fail(breaker)
    fail(breaker, ServiceUnavailable("down"))
    assert breaker.state is State.CLOSED
    fail(breaker)
    assert breaker.state is State.OPEN
    assert gauge("unit-svc") == 1


def test_open_fails_fast_with_retry_after_without_calling(breaker: Breaker, clock: Clock):
    for _ in range(3):
        fail(breaker)
    called = []

    async def fn():
        called.append(1)

    clock.now += 1.2
    with pytest.raises(ServiceUnavailable) as refused:
        asyncio.run(breaker.call(fn))
    assert called == []
    assert refused.value.extra["retry_after"] == 4  # ceil(5 - 1.2)


def test_business_errors_never_trip_it(breaker: Breaker):
    for _ in range(20):
        with pytest.raises(NotFound):
            run(breaker, error=NotFound("no such thing"))
    with pytest.raises(SuiteError):
        run(breaker, error=SuiteError("unexpected, but an answer"))
    assert breaker.state is State.CLOSED


def test_a_few_failures_among_many_successes_do_not_trip_it(breaker: Breaker):
    for _ in range(10):
        run(breaker, "ok")
        run(breaker, "ok")
        fail(breaker)
    assert breaker.state is State.CLOSED, "failures are a third of the calls, under the ratio"


def test_failures_outside_the_window_are_forgotten(breaker: Breaker, clock: Clock):
    fail(breaker)
    fail(breaker)
    clock.now += 11
    fail(breaker)
    assert breaker.state is State.CLOSED


def test_failures_the_service_is_not_blamed_for_do_not_count(breaker: Breaker):
    for _ in range(5):
        with pytest.raises(ServiceUnavailable):
            run(breaker, error=ServiceUnavailable("broker connection lost"), blame=False)
    assert breaker.state is State.CLOSED


def test_half_open_after_cooldown_lets_one_probe_and_its_success_closes(breaker: Breaker,
                                                                        clock: Clock):
    for _ in range(3):
        fail(breaker)
    clock.now += 5
    gate = asyncio.Event()

    async def scenario():
        async def slow_ok():
            await gate.wait()
            return "up"

        probe = asyncio.create_task(breaker.call(slow_ok))
        await asyncio.sleep(0)
        assert breaker.state is State.HALF_OPEN
        assert gauge("unit-svc") == 2
        with pytest.raises(ServiceUnavailable):  # one probe at a time
            await breaker.call(answer("second"))
        gate.set()
        return await probe

    assert asyncio.run(scenario()) == "up"
    assert breaker.state is State.CLOSED
    assert gauge("unit-svc") == 0
    assert run(breaker, "again") == "again"


def test_a_failed_probe_opens_it_for_another_cooldown(breaker: Breaker, clock: Clock):
    for _ in range(3):
        fail(breaker)
    clock.now += 5
    fail(breaker)
    assert breaker.state is State.OPEN
    clock.now += 4
    with pytest.raises(ServiceUnavailable):
        run(breaker, "not yet")
    clock.now += 1
    assert run(breaker, "up") == "up"
    assert breaker.state is State.CLOSED


def test_a_cancelled_probe_frees_the_probe_slot(breaker: Breaker, clock: Clock):
    for _ in range(3):
        fail(breaker)
    clock.now += 5

    async def scenario():
        probe = asyncio.create_task(breaker.call(asyncio.Event().wait))
        await asyncio.sleep(0)
        probe.cancel()
        with pytest.raises(asyncio.CancelledError):
            await probe
        return await breaker.call(answer("next probe"))

    assert asyncio.run(scenario()) == "next probe"
    assert breaker.state is State.CLOSED


def test_calls_admitted_before_it_opened_do_not_count_after(breaker: Breaker, clock: Clock):
    gate = asyncio.Event()

    async def scenario():
        async def late_ok():
            await gate.wait()
            return "late"

        early = asyncio.create_task(breaker.call(late_ok))
        await asyncio.sleep(0)
        for _ in range(3):
            with pytest.raises(UpstreamTimeout):
                await breaker.call(answer(error=UpstreamTimeout("slow")))
        gate.set()
        return await early

    assert asyncio.run(scenario()) == "late"
    assert breaker.state is State.OPEN, "a late answer from before does not close it"


def test_the_registry_shows_every_known_service_closed_from_the_start(clock: Clock):
    breakers = Breakers(POLICY, ("unit-a", "unit-b"), clock)
    assert breakers.states() == {"unit-a": State.CLOSED, "unit-b": State.CLOSED}
    assert gauge("unit-a") == 0 and gauge("unit-b") == 0
    assert breakers.get("unit-a") is breakers.get("unit-a")

"""The relay lingers only while events stream in: a lone event after a quiet spell, or events
one after the other, go out at once; a wake-up right after a pass that found several waits so
the stream leaves in batches."""

from __future__ import annotations

from typing import Any

from shared.messaging import relay as relay_module
from shared.messaging.relay import Relay, RelaySettings


class FakeClock:
    def __init__(self) -> None:
        self.now, self.sleeps = 100.0, []  # type: ignore[var-annotated]

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Wakeups:
    """A listener whose wake-ups come after the given gaps (seconds of quiet before each)."""

    def __init__(self, clock: FakeClock, gaps: list[float]) -> None:
        self.clock, self.gaps = clock, list(gaps)

    def wait(self, timeout: float) -> bool:
        self.clock.now += self.gaps.pop(0)
        return True


class NoBroker:
    def connect(self) -> None:
        pass


def lingers(monkeypatch: Any, gaps: list[float], batches: list[int]) -> list[float]:
    clock = FakeClock()
    monkeypatch.setattr(relay_module, "time", clock)
    relay = Relay(engine=None, publisher=NoBroker(),  # type: ignore[arg-type]
                  settings=RelaySettings(linger=0.03))
    sizes = iter(batches)
    monkeypatch.setattr(relay, "publish_pending", lambda: next(sizes))
    monkeypatch.setattr(relay, "_maybe_prune", lambda: None)
    passes = iter(range(len(gaps) + 1))
    relay.run(Wakeups(clock, gaps), stopping=lambda: next(passes) == len(gaps))  # type: ignore[arg-type]
    return clock.sleeps


def test_a_wake_up_after_a_quiet_spell_publishes_at_once(monkeypatch):
    assert lingers(monkeypatch, [5.0, 0.5], [3, 3, 3]) == []


def test_events_one_after_the_other_are_not_delayed(monkeypatch):
    # e.g. an admin's PATCHes in a row: each must invalidate the caches at once
    assert lingers(monkeypatch, [0.004, 0.002, 0.01], [1, 1, 1, 1]) == []


def test_wake_ups_that_keep_coming_after_several_events_wait_to_batch(monkeypatch):
    assert lingers(monkeypatch, [0.004, 0.002, 0.002, 2.0], [1, 2, 5, 5, 0]) == [0.03, 0.03]

"""ReadBatcher: reads that arrive together share one fetch; alone, they are fetched as before."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from gateway.batching import ReadBatcher, merged
from shared.errors import NotFound, ServiceUnavailable


class Upstream:
    def __init__(self, known: set[str], fail: Exception | None = None) -> None:
        self.known, self.fail = known, fail
        self.calls: list[tuple[str, object, dict[str, str]]] = []

    async def one(self, key: str, context: dict[str, str]) -> dict[str, str]:
        self.calls.append(("one", key, context))
        await asyncio.sleep(0)
        if self.fail:
            raise self.fail
        if key not in self.known:
            raise NotFound(f"No product {key}.")
        return {"id": key}

    async def many(self, keys: list[str], context: dict[str, str]) -> dict[str, dict[str, str]]:
        self.calls.append(("many", list(keys), context))
        await asyncio.sleep(0)
        if self.fail:
            raise self.fail
        return {key: {"id": key} for key in keys if key in self.known}


def sync(test: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    @functools.wraps(test)
    def run() -> None:
        asyncio.run(test())
    return run


def batcher(upstream: Upstream, max_batch: int = 64) -> ReadBatcher:
    return ReadBatcher(upstream.one, upstream.many, lambda key: NotFound(f"No product {key}."),
                       max_batch=max_batch)


def ctx(n: int) -> dict[str, str]:
    return {"request_id": f"r{n}", "traceparent": f"t{n}"}


@sync
async def test_a_lone_read_is_fetched_alone_as_before():
    upstream = Upstream({"a"})
    assert await batcher(upstream).load("a", ctx(1)) == {"id": "a"}
    assert upstream.calls == [("one", "a", ctx(1))]


@sync
async def test_reads_arriving_together_share_one_fetch_and_each_gets_its_own_answer():
    upstream = Upstream({"a", "b", "c"})
    reads = batcher(upstream)
    results = await asyncio.gather(*(reads.load(key, ctx(n))
                                     for n, key in enumerate(["a", "b", "c", "a"])))
    assert results == [{"id": "a"}, {"id": "b"}, {"id": "c"}, {"id": "a"}]
    assert len(upstream.calls) == 1
    kind, keys, context = upstream.calls[0]
    assert (kind, keys) == ("many", ["a", "b", "c"])
    assert context["request_id"] == "r0" and context["traceparent"] == "t0"
    assert sorted(context["request_ids"].split(",")) == ["r0", "r1", "r2", "r3"]


@sync
async def test_an_unknown_key_in_a_batch_is_not_found_for_its_reader_only():
    reads = batcher(Upstream({"a"}))
    found, missing = await asyncio.gather(reads.load("a", ctx(1)), reads.load("zz", ctx(2)),
                                          return_exceptions=True)
    assert found == {"id": "a"}
    assert isinstance(missing, NotFound) and missing.detail == "No product zz."


@sync
async def test_an_upstream_failure_is_every_waiters_answer():
    reads = batcher(Upstream({"a", "b"}, fail=ServiceUnavailable("down")))
    results = await asyncio.gather(reads.load("a", ctx(1)), reads.load("b", ctx(2)),
                                   return_exceptions=True)
    assert all(isinstance(r, ServiceUnavailable) for r in results)


@sync
async def test_a_full_batch_goes_at_once_and_the_rest_form_the_next():
    upstream = Upstream({str(n) for n in range(5)})
    reads = batcher(upstream, max_batch=3)
    results = await asyncio.gather(*(reads.load(str(n), ctx(n)) for n in range(5)))
    assert [r["id"] for r in results] == [str(n) for n in range(5)]
    assert [keys for _, keys, _ in upstream.calls] == [["0", "1", "2"], ["3", "4"]]


@sync
async def test_a_cancelled_reader_does_not_break_the_others():
    reads = batcher(Upstream({"a", "b"}))
    gone = asyncio.ensure_future(reads.load("a", ctx(1)))
    stays = asyncio.ensure_future(reads.load("b", ctx(2)))
    await asyncio.sleep(0)
    gone.cancel()
    assert await stays == {"id": "b"}
    with pytest.raises(asyncio.CancelledError):
        await gone


def test_one_request_id_is_not_repeated_as_a_list():
    assert "request_ids" not in merged([ctx(1), ctx(1)])


@sync
async def test_while_two_batches_fly_the_next_forms_and_goes_when_one_lands():
    gate = asyncio.Event()

    class Slow(Upstream):
        async def one(self, key: str, context: dict[str, str]) -> dict[str, str]:
            self.calls.append(("one", key, context))
            await gate.wait()
            return {"id": key}

        async def many(self, keys: list[str],
                       context: dict[str, str]) -> dict[str, dict[str, str]]:
            self.calls.append(("many", list(keys), context))
            await gate.wait()
            return {key: {"id": key} for key in keys}

    upstream = Slow(set())
    reads = batcher(upstream)
    flying = [asyncio.ensure_future(reads.load(key, ctx(n))) for n, key in enumerate("ab")]
    await asyncio.sleep(0)  # batch 1: a, b
    flying.append(asyncio.ensure_future(reads.load("c", ctx(3))))
    await asyncio.sleep(0)  # batch 2: c
    waiting = [asyncio.ensure_future(reads.load(key, ctx(n))) for n, key in enumerate("def")]
    for _ in range(5):
        await asyncio.sleep(0)
    assert [keys for _, keys, _ in upstream.calls] == [["a", "b"], "c"], "two fly, d-f wait"
    gate.set()
    assert [r["id"] for r in await asyncio.gather(*flying, *waiting)] == list("abcdef")
    assert [keys for _, keys, _ in upstream.calls][2:] == [["d", "e", "f"]]

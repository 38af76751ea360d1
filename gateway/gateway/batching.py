"""Coalescing concurrent reads into one RPC (the DataLoader pattern), ADR 0008.

Reads by key that arrive in the same turn of the event loop wait together: one key alone is
fetched with `fetch_one`, several with one `fetch_many` call. While `max_flying` batches are on
their way, the next one keeps forming and goes when one lands: a busy service gets fewer, bigger
batches instead of a small call per turn (docs/benchmarks.md, product_mix). A read of a key
whose fetch is already on its way joins it (single flight; the caller, gateway.product_reads,
`forget`s a fetch whose answer may be stale). Nothing is cached here. Each batch carries the
first reader's context plus every request id (`request_ids`), so the service's log line names
all the requests it served. Each reader waits on a future of its own: a reader that goes away
cancels only its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

Context = dict[str, str]
FetchOne = Callable[[str, Context], Awaitable[Any]]
FetchMany = Callable[[list[str], Context], Awaitable[dict[str, Any]]]
Missing = Callable[[str], BaseException]
Fetched = Callable[[str, Any, int], None]


@dataclass(eq=False, slots=True)
class Flight:
    """One key's fetch: its readers (none for a refresh) and the epoch it was sent at."""

    futures: list[asyncio.Future[Any]] = field(default_factory=list)
    contexts: list[Context] = field(default_factory=list)
    sent_at: int | None = None


class ReadBatcher:
    def __init__(self, fetch_one: FetchOne, fetch_many: FetchMany, missing: Missing,
                 max_batch: int = 64, fetched: Fetched | None = None,
                 epoch: Callable[[], int] = lambda: 0, max_flying: int = 2) -> None:
        self._fetch_one, self._fetch_many, self._missing = fetch_one, fetch_many, missing
        self._fetched, self._epoch = fetched, epoch
        self.max_batch, self.max_flying = max_batch, max_flying
        self._pending: dict[str, Flight] = {}
        self._sent: dict[str, Flight] = {}
        self._scheduled = False
        self._running: set[asyncio.Task[None]] = set()

    def flight(self, key: str) -> Flight | None:
        """The fetch of `key` a new read would join, if any."""
        return self._pending.get(key) or self._sent.get(key)

    def forget(self, key: str) -> None:
        """New reads of `key` no longer join the fetch on its way (its answer may be stale)."""
        self._sent.pop(key, None)

    def load(self, key: str, context: Context) -> asyncio.Future[Any]:
        """A future of `key`'s value (or error), of this reader's own."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        flight = self.flight(key) or self._enqueue(key)
        flight.futures.append(future)
        flight.contexts.append(context)
        return future

    def refresh(self, key: str, context: Context) -> None:
        """Fetch `key` with nobody waiting (the caller keeps the answer), unless on its way."""
        if self.flight(key) is None:
            self._enqueue(key).contexts.append(context)

    def _enqueue(self, key: str) -> Flight:
        flight = self._pending[key] = Flight()
        if len(self._pending) >= self.max_batch:
            self._flush()
        elif len(self._running) < self.max_flying:
            self._schedule()
        return flight  # else it goes when a batch lands (_landed)

    def _schedule(self) -> None:
        if not self._scheduled:
            # After the requests that are already runnable: they join this batch.
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _landed(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if self._pending:
            self._schedule()

    def _flush(self) -> None:
        self._scheduled = False
        batch, self._pending = self._pending, {}
        if not batch:
            return
        epoch = self._epoch()
        for key, flight in batch.items():
            flight.sent_at = epoch
            self._sent[key] = flight
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._running.add(task)
        task.add_done_callback(self._landed)

    async def _run(self, batch: dict[str, Flight]) -> None:
        keys = list(batch)
        context = merged([ctx for flight in batch.values() for ctx in flight.contexts])
        try:
            if len(keys) == 1:
                found = {keys[0]: await self._fetch_one(keys[0], context)}
            else:
                found = await self._fetch_many(keys, context)
        except asyncio.CancelledError:
            self._land(batch, None, cancelled=True)
            raise
        except Exception as error:  # the call's error is every waiter's answer
            self._land(batch, error)
            return
        self._land(batch, found)

    def _land(self, batch: dict[str, Flight], found: dict[str, Any] | BaseException | None,
              cancelled: bool = False) -> None:
        for key, flight in batch.items():
            if self._sent.get(key) is flight:
                del self._sent[key]
            if cancelled:
                _cancel(flight.futures)
            elif isinstance(found, dict) and key in found:
                if self._fetched is not None and flight.sent_at is not None:
                    self._fetched(key, found[key], flight.sent_at)
                _settle(flight.futures, value=found[key])
            else:
                _settle(flight.futures, error=found if isinstance(found, BaseException)
                        else self._missing(key))


def merged(contexts: list[Context]) -> Context:
    context = dict(contexts[0])
    ids = list(dict.fromkeys(c["request_id"] for c in contexts if c.get("request_id")))
    if len(ids) > 1:
        context["request_ids"] = ",".join(ids)
    return context


def _cancel(futures: list[asyncio.Future[Any]]) -> None:
    for future in futures:
        future.cancel()


def _settle(futures: list[asyncio.Future[Any]], value: Any = None,
            error: BaseException | None = None) -> None:
    for future in futures:
        if future.done():  # its request was cancelled (the client went away)
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

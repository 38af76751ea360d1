"""Coalescing concurrent reads into one RPC (the DataLoader pattern).

Reads by key that arrive in the same turn of the event loop wait together: one key alone is
fetched with `fetch_one` exactly as before, several with one `fetch_many` call. Under load that
turns, say, eight `catalog.get_product` round trips (eight publishes, eight deliveries, eight
nameko workers, eight queries) into one `catalog.get_products` and one `WHERE id IN (...)`.
Nothing is cached: every read is fetched after it arrived, so it is as fresh as a lone read.
Each batch carries the first request's context plus every request id (`request_ids`), so the
service's log line names all the requests it served.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

Context = dict[str, str]
FetchOne = Callable[[str, Context], Awaitable[Any]]
FetchMany = Callable[[list[str], Context], Awaitable[dict[str, Any]]]
Missing = Callable[[str], BaseException]
Waiter = tuple["asyncio.Future[Any]", Context]


class ReadBatcher:
    def __init__(self, fetch_one: FetchOne, fetch_many: FetchMany, missing: Missing,
                 max_batch: int = 64) -> None:
        self._fetch_one, self._fetch_many, self._missing = fetch_one, fetch_many, missing
        self.max_batch = max_batch
        self._pending: dict[str, list[Waiter]] = {}
        self._scheduled = False
        self._running: set[asyncio.Task[None]] = set()

    async def load(self, key: str, context: Context) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.setdefault(key, []).append((future, context))
        if len(self._pending) >= self.max_batch:
            self._flush()
        elif not self._scheduled:
            # After the requests that are already runnable: they join this batch.
            self._scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._scheduled = False
        batch, self._pending = self._pending, {}
        if batch:
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, batch: dict[str, list[Waiter]]) -> None:
        keys = list(batch)
        context = merged([ctx for waiters in batch.values() for _, ctx in waiters])
        try:
            if len(keys) == 1:
                found = {keys[0]: await self._fetch_one(keys[0], context)}
            else:
                found = await self._fetch_many(keys, context)
        except asyncio.CancelledError:
            for waiters in batch.values():
                for future, _ in waiters:
                    future.cancel()
            raise
        except Exception as error:  # the call's error is every waiter's answer
            for waiters in batch.values():
                _settle(waiters, error=error)
            return
        for key, waiters in batch.items():
            if key in found:
                _settle(waiters, value=found[key])
            else:
                _settle(waiters, error=self._missing(key))


def merged(contexts: list[Context]) -> Context:
    context = dict(contexts[0])
    ids = list(dict.fromkeys(c["request_id"] for c in contexts if c.get("request_id")))
    if len(ids) > 1:
        context["request_ids"] = ",".join(ids)
    return context


def _settle(waiters: list[Waiter], value: Any = None, error: BaseException | None = None) -> None:
    for future, _ in waiters:
        if future.done():  # its request was cancelled (the client went away)
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

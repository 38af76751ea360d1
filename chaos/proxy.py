"""A TCP proxy between one service and the private broker, with faults the nemesis turns on.

- `latency(seconds)`: every chunk waits that long before it is forwarded (both directions);
- `blackhole()`: nothing is forwarded any more (new connections are accepted and then hang);
  what was sent meanwhile is held, as TCP would, and flows again on `heal()` unless the peer
  gave up (heartbeat) first;
- `reset()`: every open connection is aborted (both sides see a reset); new ones are accepted.
While the broker itself is down the proxy does not listen (clients see "connection refused").
`heal()` ends latency and black hole. tests/support/faultproxy.py only stops/starts listening;
this one keeps listening and degrades the links instead. It runs its own asyncio loop thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any

CHUNK = 64 * 1024


class FaultyProxy:
    def __init__(self, name: str, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.name = name
        self.target = (target_host, target_port)
        self.port = 0
        self.delay = 0.0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"proxy-{name}",
                                        daemon=True)
        self._thread.start()
        self._flowing = self._call(self._event())
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def uri(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def start(self) -> FaultyProxy:
        self._call(self._listen())
        return self

    def latency(self, seconds: float) -> None:
        self.delay = seconds

    def blackhole(self) -> None:
        self._loop.call_soon_threadsafe(self._flowing.clear)

    def heal(self) -> None:
        self.delay = 0.0
        self._loop.call_soon_threadsafe(self._flowing.set)

    def reset(self) -> int:
        return int(self._call(self._abort_all()))

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self.heal()
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def _call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    @staticmethod
    async def _event() -> asyncio.Event:
        event = asyncio.Event()
        event.set()
        return event

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port,
                                                  reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _refuse_while_down(self) -> None:
        """The broker is down: stop listening, so clients get "connection refused" as they
        would from the broker's own port, until the broker accepts connections again."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        while True:
            try:
                _, writer = await asyncio.open_connection(*self.target)
            except OSError:
                await asyncio.sleep(0.2)
                continue
            writer.transport.abort()
            break
        await self._listen()

    async def _abort_all(self) -> int:
        writers = list(self._writers)
        for writer in writers:
            writer.transport.abort()
        self._writers.clear()
        return len(writers) // 2

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._abort_all()

    async def _accept(self, client_r: asyncio.StreamReader,
                      client_w: asyncio.StreamWriter) -> None:
        try:
            upstream_r, upstream_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.transport.abort()
            await self._refuse_while_down()
            return
        self._writers.update((client_w, upstream_w))
        try:
            await asyncio.gather(self._pipe(client_r, upstream_w),
                                 self._pipe(upstream_r, client_w))
        finally:
            for writer in (client_w, upstream_w):
                self._writers.discard(writer)
                writer.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read as fast as the peer sends; forward each chunk once its delay is over, in order
        (latency, not a bandwidth cap), and only while the link is not black-holed."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        forward = asyncio.ensure_future(self._forward(queue, writer))
        try:
            with contextlib.suppress(OSError):
                while data := await reader.read(CHUNK):
                    queue.put_nowait((self._loop.time() + self.delay, data))
            queue.put_nowait((0.0, b""))
            await forward
        finally:
            forward.cancel()
            writer.transport.abort()

    async def _forward(self, queue: asyncio.Queue[tuple[float, bytes]],
                       writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while True:
                due, data = await queue.get()
                if not data:
                    return
                await asyncio.sleep(max(0.0, due - self._loop.time()))
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()

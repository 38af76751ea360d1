"""A TCP proxy between one service and the private broker, with faults the nemesis turns on.

- `latency(seconds)`: every chunk waits that long before it is forwarded (both directions);
- `blackhole()`: nothing is forwarded any more (new connections are accepted and then hang);
  what was sent meanwhile is held, as TCP would, and flows again on `heal()` unless the peer
  gave up (heartbeat) first;
- `reset()`: every open connection is aborted (both sides see a reset); new ones are accepted.
While the broker itself is down the proxy does not listen (clients see "connection refused").
`heal()` ends latency and black hole. It is tests/support/faultproxy.py's proxy (which only
stops and starts listening) with degraded links instead; it runs on that proxy's loop thread.
"""

from __future__ import annotations

import asyncio
import contextlib

from tests.support.faultproxy import CHUNK, FaultProxy


class FaultyProxy(FaultProxy):
    def __init__(self, name: str, target_port: int, target_host: str = "127.0.0.1") -> None:
        super().__init__(target_host, target_port)
        self.name = name
        self.delay = 0.0
        self._flowing: asyncio.Event = self._run(self._event())

    def broker_uri(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def latency(self, seconds: float) -> None:
        self.delay = seconds

    def blackhole(self) -> None:
        self._loop.call_soon_threadsafe(self._flowing.clear)

    def heal(self) -> None:
        self.delay = 0.0
        self._loop.call_soon_threadsafe(self._flowing.set)

    def reset(self) -> int:
        return int(self._run(self._abort_all()))

    def close(self) -> None:
        if not self._loop.is_closed():
            self.heal()
        super().close()

    @staticmethod
    async def _event() -> asyncio.Event:
        event = asyncio.Event()
        event.set()
        return event

    async def _unreachable(self, client_w: asyncio.StreamWriter) -> None:
        """The broker is down: stop listening, so clients get "connection refused" as they
        would from the broker's own port, until the broker accepts connections again."""
        client_w.transport.abort()
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

"""A TCP proxy that can "kill" a backing server for the processes behind it, and bring it back.

Tests point a process at the proxy instead of the real RabbitMQ; `stop()` then drops every
connection and refuses new ones (what a dead broker looks like to a client), `start()` listens
again on the same port. The real server is never touched, so other tests and engineers sharing
it are not disturbed. The proxy runs its own asyncio loop in a daemon thread, so synchronous
tests drive it with plain method calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit, urlunsplit

CHUNK = 64 * 1024
CALL_TIMEOUT = 10.0


class FaultProxy:
    def __init__(self, target_host: str, target_port: int, host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.host = host
        self.port = 0  # chosen by the OS on the first start(), then kept
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="faultproxy",
                                        daemon=True)
        self._thread.start()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @classmethod
    def for_uri(cls, uri: str) -> FaultProxy:
        parts = urlsplit(uri)
        return cls(parts.hostname or "127.0.0.1", parts.port or 5672)

    def uri(self, uri: str) -> str:
        """`uri` with its host and port replaced by the proxy's (credentials and path kept)."""
        parts = urlsplit(uri)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@{self.host}:{self.port}" if credentials else \
            f"{self.host}:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    @property
    def listening(self) -> bool:
        return self._server is not None

    @property
    def connections(self) -> int:
        return int(self._run(self._count()))

    def start(self) -> FaultProxy:
        self._run(self._listen())
        return self

    def stop(self) -> None:
        """Refuse new connections and abort every open one (both sides see a reset)."""
        self._run(self._shutdown())

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(CALL_TIMEOUT)
        self._loop.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(CALL_TIMEOUT)

    async def _count(self) -> int:
        return len(self._writers)

    async def _listen(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(self._accept, self.host, self.port,
                                                  reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        await self._abort_all()

    async def _abort_all(self) -> int:
        """Abort every open connection (both sides see a reset); returns how many links."""
        writers = list(self._writers)
        for writer in writers:
            writer.transport.abort()
        self._writers.clear()
        return len(writers) // 2

    async def _unreachable(self, client_w: asyncio.StreamWriter) -> None:
        """The target refused a connection: the client sees a reset."""
        client_w.transport.abort()

    async def _accept(self, client_r: asyncio.StreamReader,
                      client_w: asyncio.StreamWriter) -> None:
        if self._server is None:
            client_w.transport.abort()
            return
        try:
            upstream_r, upstream_w = await asyncio.open_connection(*self.target)
        except OSError:
            await self._unreachable(client_w)
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
        with contextlib.suppress(OSError):
            while data := await reader.read(CHUNK):
                writer.write(data)
                await writer.drain()
        # One side finished: end the other so neither waits on a half-open connection.
        writer.transport.abort()

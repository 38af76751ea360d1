"""uvicorn's HTTP protocol (httptools) with the guards uvicorn lacks against slow clients.

- A request's headers must arrive within `GATEWAY_HEADER_TIMEOUT` seconds of its first byte (of
  the connection's opening, for the first request), and its body within `GATEWAY_BODY_TIMEOUT`
  seconds of its headers; else `408` and the connection is closed. uvicorn has neither: a
  request whose body trickles in holds its in-flight slot for as long as the client likes.
- At most `GATEWAY_MAX_CLIENT_CONNECTIONS` open connections per client address; the next ones
  get `503` and are closed at once. Trusted proxies (`GATEWAY_TRUSTED_PROXIES`) carry many
  clients and are never capped.

The timers are armed only while a request is incomplete after a read, so a request that
arrives in one piece (nearly all) costs three flag writes and no timer. Built on uvicorn
internals (pinned in constraints.txt; ADR 0016); `python -m gateway` serves with it.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway.config import IPNetwork, settings
from gateway.metrics import EDGE_REFUSED as REFUSED

HEADERS, BODY = "header", "body"


def canned(status: bytes, detail: str, *extra: bytes) -> bytes:
    """A whole problem+json response that closes the connection, written without the app."""
    title = status.split(b" ", 1)[1].decode()
    body = (f'{{"type":"about:blank","title":"{title}","status":{int(status[:3])},'
            f'"detail":"{detail}","request_id":null}}').encode()
    head = [b"HTTP/1.1 " + status, b"content-type: application/problem+json",
            b"content-length: " + str(len(body)).encode(), b"connection: close",
            b"cache-control: no-store", b"x-content-type-options: nosniff", *extra]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


TIMED_OUT = canned(b"408 Request Timeout", "The request did not arrive in time.")
TOO_MANY = canned(b"503 Service Unavailable",
                  "Too many connections from this address; retry shortly.", b"retry-after: 1")


@dataclass(frozen=True)
class Limits:
    header_timeout: float
    body_timeout: float
    max_connections: int
    proxies: tuple[IPNetwork, ...]

    def capped(self, address: str) -> bool:
        """Whether connections from `address` count against the per-client cap."""
        if self.max_connections <= 0:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return True
        return not any(ip in network for network in self.proxies)


@lru_cache(maxsize=1)
def limits() -> Limits:
    config = settings()  # each uvicorn worker process reads its own environment
    return Limits(config.header_timeout, config.body_timeout, config.max_client_connections,
                  tuple(config.proxy_networks()))


class GuardedHttpProtocol(HttpToolsProtocol):
    open_by_address: Counter[str] = Counter()  # this process's connections per client address

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits()
        self.phase: str | None = HEADERS  # the part of the current request still to come
        self.deadline: asyncio.TimerHandle | None = None
        self.deadline_phase: str | None = None
        self.counted: str | None = None  # the address this connection is counted under

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        address = self.client[0] if self.client else ""
        if self.limits.capped(address):
            if self.open_by_address[address] >= self.limits.max_connections:
                REFUSED.labels("connections").inc()
                self.phase = None
                transport.write(TOO_MANY)
                transport.close()
                return
            self.open_by_address[address] += 1
            self.counted = address
        self._arm(HEADERS)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self.counted is not None:
            left = self.open_by_address[self.counted] - 1
            if left > 0:
                self.open_by_address[self.counted] = left
            else:
                del self.open_by_address[self.counted]
            self.counted = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.phase != self.deadline_phase:  # only when a request is left incomplete
            self._disarm()
            if self.phase is not None and not self.transport.is_closing():
                self._arm(self.phase)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.phase = HEADERS

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self.phase = BODY

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.phase = None

    def _arm(self, phase: str) -> None:
        seconds = self.limits.header_timeout if phase == HEADERS else self.limits.body_timeout
        self.deadline = self.loop.call_later(seconds, self._timed_out)
        self.deadline_phase = phase

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = self.deadline_phase = None

    def _timed_out(self) -> None:
        """408 unless a response has begun; closing makes the app's body read end (the app's
        own answer to the cut-off request is then dropped by uvicorn)."""
        phase, self.deadline, self.deadline_phase = self.deadline_phase, None, None
        if self.transport.is_closing():
            return
        REFUSED.labels(f"{phase}_timeout").inc()
        cycle = self.cycle
        if phase == HEADERS:  # the previous request's response may still be going out
            answer = cycle is None or cycle.response_complete
        else:
            answer = not cycle.response_started
            cycle.scope["state"]["timed_out"] = answer  # the app's log line then says 408
        if answer:
            self.transport.write(TIMED_OUT)
        self.transport.close()

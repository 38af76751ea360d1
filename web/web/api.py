"""The gateway's public HTTP API, as the web front end uses it.

One pooled aiohttp session. Every call forwards the page request's id as `X-Request-ID`, so
the gateway and the services log it too; an error answer becomes an `ApiError` carrying the
problem's title, detail, field errors and request id, which the pages show as they are.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson


@dataclass
class ApiError(Exception):
    status: int
    title: str
    detail: str = ""
    request_id: str = ""
    errors: list[dict[str, Any]] = field(default_factory=list)
    body: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.title}: {self.detail}"

    @property
    def message(self) -> str:
        """One readable sentence for the page."""
        text = self.detail or self.title
        if self.errors:
            text += " " + "; ".join(f"{e.get('field')}: {e.get('message')}" for e in self.errors)
        return text


@dataclass
class Reply:
    status: int
    data: Any
    headers: Mapping[str, str]


def _problem(status: int, reason: str, headers: Mapping[str, str], content: bytes,
             request_id: str) -> ApiError:
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return ApiError(status=status, title=str(body.get("title") or reason or "Error"),
                    detail=str(body.get("detail") or ""),
                    request_id=str(body.get("request_id") or headers.get("x-request-id")
                                   or request_id),
                    errors=list(body.get("errors") or []), body=body)


class Api:
    """Created inside the running event loop (the app's lifespan)."""

    def __init__(self, base_url: str, timeout: float) -> None:
        # aiohttp, not httpx: 1.0 against 2.3 ms of CPU per call here (docs/web.md, "Speed").
        self.session = aiohttp.ClientSession(
            base_url, connector=aiohttp.TCPConnector(limit=64, keepalive_timeout=30),
            timeout=aiohttp.ClientTimeout(total=timeout), raise_for_status=False)

    async def close(self) -> None:
        await self.session.close()

    async def call(self, method: str, path: str, *, request_id: str, token: str | None = None,
                   json: Any = None, params: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> Reply:
        sent = {"X-Request-ID": request_id, "Accept": "application/json", **(headers or {})}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        body = None
        if json is not None:
            body, sent["Content-Type"] = orjson.dumps(json), "application/json"
        query = {k: str(v) for k, v in (params or {}).items() if v not in (None, "")}
        try:
            async with self.session.request(method, path, data=body, params=query,
                                            headers=sent) as response:
                content = await response.read()
                status, reason, got = response.status, response.reason or "", response.headers
        except TimeoutError:
            raise ApiError(504, "Gateway Timeout", "The shop's API did not answer in time.",
                           request_id) from None
        except aiohttp.ClientError:
            raise ApiError(503, "Service Unavailable", "The shop's API cannot be reached.",
                           request_id) from None
        if status >= 400:
            raise _problem(status, reason, got, content, request_id)
        return Reply(status, orjson.loads(content) if content else None, got)


def new_request_id() -> str:
    return str(uuid.uuid4())

"""The gateway's public HTTP API, as the web front end uses it: one pooled httpx client.

Every call forwards the page request's id as `X-Request-ID`, so the gateway and the services
log it too; an error answer becomes an `ApiError` carrying the problem's title, detail, field
errors and request id, which the pages show as they are.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx


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
    headers: httpx.Headers


def _problem(response: httpx.Response, request_id: str) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return ApiError(status=response.status_code,
                    title=str(body.get("title") or response.reason_phrase or "Error"),
                    detail=str(body.get("detail") or ""),
                    request_id=str(body.get("request_id")
                                   or response.headers.get("x-request-id") or request_id),
                    errors=list(body.get("errors") or []), body=body)


class Api:
    def __init__(self, base_url: str, timeout: float) -> None:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
        self.client = httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=limits)

    async def close(self) -> None:
        await self.client.aclose()

    async def call(self, method: str, path: str, *, request_id: str, token: str | None = None,
                   json: Any = None, params: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> Reply:
        sent = {"X-Request-ID": request_id, "Accept": "application/json", **(headers or {})}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        query = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            response = await self.client.request(method, path, json=json, params=query,
                                                 headers=sent)
        except httpx.TimeoutException:
            raise ApiError(504, "Gateway Timeout", "The shop's API did not answer in time.",
                           request_id) from None
        except httpx.HTTPError:
            raise ApiError(503, "Service Unavailable", "The shop's API cannot be reached.",
                           request_id) from None
        if response.status_code >= 400:
            raise _problem(response, request_id)
        data = response.json() if response.content else None
        return Reply(response.status_code, data, response.headers)


def new_request_id() -> str:
    return str(uuid.uuid4())

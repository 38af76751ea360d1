"""Route class that enforces JSON request bodies before FastAPI parses them (415, not 422)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from shared.errors import UnsupportedMediaType


def is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/")
                                            and media.endswith("+json"))


class JsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def json_only(request: Request) -> Response:
            if not is_json(request.headers.get("content-type", "")):
                raise UnsupportedMediaType("Send the body as application/json.")
            return await handler(request)

        return json_only

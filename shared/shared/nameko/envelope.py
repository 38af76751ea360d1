"""Validating an RPC request before nameko sees it.

nameko trusts the request: with no content_type kombu hands over the raw text and the reply
crashes the container (nameko's Responder looks the serializer up by the request's content
type), undecodable JSON is dropped and its caller hangs, and a non-list `nameko.call_id_stack`
header crashes the worker thread, which kills the container. Whatever fails here is parked.
"""

from __future__ import annotations

from typing import Any

from nameko.constants import CALL_ID_STACK_CONTEXT_KEY, HEADER_PREFIX

from shared import wire

JSON = "application/json"
_UTF8 = frozenset({"utf-8", "utf8"})
_CALL_ID_STACK = f"{HEADER_PREFIX}.{CALL_ID_STACK_CONTEXT_KEY}"


class Malformed(Exception):
    """The request cannot be run; str(exc) says why (it goes to the caller and the DLQ)."""


def raw_body(message: Any) -> bytes:
    body = message.body
    if isinstance(body, str):
        return body.encode(message.content_encoding or "utf-8", errors="surrogateescape")
    return bytes(body or b"")


def read_request(message: Any) -> dict[str, Any]:
    """Return the decoded `{"args": [...], "kwargs": {...}}` body or raise Malformed."""
    content_type = message.content_type or ""
    if not content_type:
        raise Malformed(f"the request has no content_type; RPC requests must be {JSON}")
    if content_type.split(";", 1)[0].strip().lower() != JSON:
        raise Malformed(f"content_type {content_type!r} is not supported; use {JSON}")
    if (message.content_encoding or "utf-8").lower() not in _UTF8:
        raise Malformed(f"content_encoding {message.content_encoding!r} is not utf-8")
    try:
        body = wire.loads(raw_body(message))
    except ValueError:
        raise Malformed("the body is not valid JSON") from None
    if not (isinstance(body, dict) and isinstance(body.get("args"), list)
            and isinstance(body.get("kwargs"), dict)):
        raise Malformed('the body must be {"args": [...], "kwargs": {...}}')
    stack = (message.headers or {}).get(_CALL_ID_STACK)
    if stack is not None and not (isinstance(stack, list)
                                  and all(isinstance(item, str) for item in stack)):
        raise Malformed(f"header {_CALL_ID_STACK} must be a list of strings")
    return body

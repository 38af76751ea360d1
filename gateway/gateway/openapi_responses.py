"""What each operation can answer, declared once for every route (docs/api/http-api.md).

Routes say which statuses they answer and which headers their success carries:

    @router.get("/things/{id}", operation_id="getThing", responses={
        **success(200, "ETag"), **problems(401, 404, *UPSTREAM)})

`problems` puts the Problem schema on `application/problem+json` (the media type errors are
sent with; FastAPI's `model=` would put it under `application/json`) and adds what the edge
answers on every limited route: 429 (rate limit) and 503 (load shedding).
`gateway.openapi_document` adds what every response carries (X-Request-ID, RateLimit-*).
"""

from __future__ import annotations

from typing import Any

from gateway.problems import PROBLEM_JSON

Responses = dict[int | str, dict[str, Any]]

BODY = (400, 413, 415, 422)  # malformed JSON, too large, not JSON, schema violation
UPSTREAM = (503, 504)  # a backing service down (or breaker open), or too slow
EDGE = (429, 503)  # rate limit and load shedding: every route but the probes

HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {"description": "The request's id: the client's own if it sent a sane "
                                    "one (1-128 of `A-Za-z0-9._:-`), else a new one. It is in "
                                    "every log line the request causes.",
                     "schema": {"type": "string"}},
    "RateLimit-Limit": {"description": "Requests allowed in the current window of the budget "
                                       "with the least left (per IP, or per user once signed "
                                       "in). Absent when rate limiting is off.",
                        "schema": {"type": "integer"}},
    "RateLimit-Remaining": {"description": "Requests left in that window.",
                            "schema": {"type": "integer"}},
    "RateLimit-Reset": {"description": "Seconds until that window resets.",
                        "schema": {"type": "integer"}},
    "Retry-After": {"description": "Seconds to wait before retrying.",
                    "schema": {"type": "integer"}},
    "WWW-Authenticate": {"description": "`Bearer`: how to authenticate.",
                         "schema": {"type": "string"}},
    "ETag": {"description": "Strong validator: the product's `version`, quoted. Send it back "
                            "in `If-Match` (PATCH) or `If-None-Match` (GET).",
             "schema": {"type": "string"}},
    "Location": {"description": "Path of the created resource.", "schema": {"type": "string"}},
    "Idempotent-Replayed": {"description": "`true` when this is the stored answer to an "
                                           "earlier request with the same Idempotency-Key.",
                            "schema": {"type": "string", "enum": ["true"]}},
    "Cache-Control": {"description": "How long the answer may be cached, or `no-store`.",
                      "schema": {"type": "string"}},
}
ALWAYS_SENT = frozenset({"X-Request-ID", "ETag", "Location"})

DESCRIPTIONS = {
    400: "Malformed request: the body is not valid JSON, or a required header is missing",
    401: "Missing, invalid or expired access token", 402: "Payment declined",
    403: "Signed in, but not allowed", 404: "No such resource (or not yours)",
    409: "Conflict with the current state", 412: "If-Match does not name the current version",
    413: "Body larger than the limit (64 KiB by default)",
    415: "Body is not `application/json`", 422: "Well-formed, but invalid: see `errors`",
    428: "Precondition required", 429: "Too many requests: see Retry-After",
    503: "Unavailable: a backing service is down, or the gateway is at capacity",
    504: "A backing service did not answer in time",
}
_ERROR_HEADERS = {401: ("WWW-Authenticate",), 429: ("Retry-After",), 503: ("Retry-After",),
                  504: ("Retry-After",)}


def header_ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/headers/{name}"}


def headers(*names: str) -> dict[str, Any]:
    return {name: header_ref(name) for name in names}


def schema_ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def problem(status: int, schema: str = "Problem", description: str | None = None) -> Responses:
    """One error status, its body a problem document (`schema`, a component schema name)."""
    response: dict[str, Any] = {"description": description or DESCRIPTIONS.get(status, "Error"),
                                "content": {PROBLEM_JSON: {"schema": schema_ref(schema)}}}
    if status in _ERROR_HEADERS:
        response["headers"] = headers(*_ERROR_HEADERS[status])
    return {status: response}


def problems(*statuses: int, edge: bool = True) -> Responses:
    """The error statuses a route answers, plus EDGE's unless `edge=False` (the probes)."""
    out: Responses = {}
    for status in sorted({*statuses, *(EDGE if edge else ())}):
        out.update(problem(status))
    return out


def success(status: int, *names: str, description: str | None = None) -> Responses:
    """The success status with the headers it carries (beyond those every answer has)."""
    response: dict[str, Any] = {"headers": headers(*names)}
    if description is not None:
        response["description"] = description
    return {status: response}


def body_example(example: dict[str, Any]) -> dict[str, Any]:
    """`openapi_extra` giving a JSON request body its example (merged into FastAPI's)."""
    return {"requestBody": {"content": {"application/json": {"example": example}}}}

"""RFC 9457 problem+json answers; never a stack trace or exception text."""

from __future__ import annotations

import logging
import re
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from shared.errors import (
    WIRE_ERRORS,
    BadRequest,
    ServiceUnavailable,
    SuiteError,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
    UpstreamTimeout,
    ValidationFailed,
)

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_SECONDS = "1"
_BY_STATUS = {cls.status: cls for cls in WIRE_ERRORS.values()}
_HTTP_DETAILS = {404: "No such resource.", 405: "This method is not allowed on this resource.",
                 413: "The request body is too large."}


def is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/")
                                            and media.endswith("+json"))


def problem_response(error: SuiteError, request_id: str | None) -> Response:
    headers: dict[str, str] = {}
    if isinstance(error, (ServiceUnavailable, UpstreamTimeout, TooManyRequests)):
        headers["Retry-After"] = str(error.extra.pop("retry_after", RETRY_AFTER_SECONDS))
    if isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    return Response(orjson.dumps(error.to_problem(request_id)), status_code=error.status,
                    media_type=PROBLEM_JSON, headers=headers)


def _request_id(request: Request) -> str | None:
    request_id: str | None = request.scope.get("state", {}).get("request_id")
    return request_id


def field_errors(errors: Any) -> list[dict[str, str]]:
    out = []
    for err in errors:
        loc = [str(part) for part in err.get("loc", ()) if part not in ("body", "query", "path")]
        out.append({"field": ".".join(loc) or "body", "message": str(err.get("msg", "invalid"))})
    return out


async def suite_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SuiteError)
    if exc.status >= 500 and type(exc) is SuiteError:
        log.error("upstream failed with an unexpected error")
    return problem_response(exc, _request_id(request))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    error: SuiteError
    if any(err.get("type") == "json_invalid" for err in exc.errors()):
        error = BadRequest("The request body is not valid JSON.")
    elif _body_not_json(request, exc.errors()):
        # FastAPI hands a non-JSON body to the model as bytes and reports a 422; JsonRoute
        # catches this earlier, but only on routers built with it (the app's route_class does
        # not reach the routes of included routers in FastAPI 0.165).
        error = UnsupportedMediaType("Send the body as application/json.")
    else:
        error = ValidationFailed("The request does not match the schema.",
                                 field_errors(exc.errors()))
    return problem_response(error, _request_id(request))


def _body_not_json(request: Request, errors: Any) -> bool:
    body_errors = any(tuple(err.get("loc", ()))[:1] == ("body",) for err in errors)
    return body_errors and not is_json(request.headers.get("content-type", ""))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    cls = _BY_STATUS.get(exc.status_code, SuiteError)
    response = problem_response(cls(_HTTP_DETAILS.get(exc.status_code, "")), _request_id(request))
    # Keeps what the exception carries, e.g. the `Allow` header a 405 must have (RFC 9110).
    response.headers.update(exc.headers or {})
    if exc.status_code == 405 and (allowed := _allowed_methods(request)):
        response.headers["Allow"] = allowed
    return response


_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def _allowed_methods(request: Request) -> str | None:
    """Every method the OpenAPI document has for the path. Starlette's 405 names only those of
    the first route whose path matched, e.g. `GET` alone on /products/{id}, which PATCH and
    DELETE serve too."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, request.url.path):
            methods |= {method.upper() for method in operations if method in _METHODS}
    return ", ".join(sorted(methods)) or None


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error")
    return problem_response(SuiteError("An unexpected error occurred."), _request_id(request))


def install(app: FastAPI) -> None:
    app.add_exception_handler(SuiteError, suite_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, _unexpected)

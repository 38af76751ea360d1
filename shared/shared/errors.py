"""Typed errors that cross RPC and map to HTTP status codes.

A service raises one of these; nameko serialises it as `{exc_type, exc_path, exc_args, value}`.
The gateway maps `exc_type` back with `error_for_wire` and answers problem+json; any other
exception becomes a bare 500 with no text from the exception.
"""

from __future__ import annotations

from typing import Any, ClassVar


class SuiteError(Exception):
    """Base of every error that may cross a process boundary."""

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal Server Error"
    slug: ClassVar[str] = "internal"

    def __init__(self, detail: str = "", errors: list[dict[str, str]] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail, errors or [], extra or {})
        self.detail = detail or self.title
        self.errors = errors or []
        self.extra = extra or {}

    def to_problem(self, request_id: str | None = None) -> dict[str, Any]:
        problem: dict[str, Any] = {
            "type": f"https://errors.commerce-suite.dev/{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "request_id": request_id,
        }
        if self.errors:
            problem["errors"] = self.errors
        problem.update(self.extra)
        return problem


class BadRequest(SuiteError):
    status, title, slug = 400, "Bad Request", "bad-request"


class Unauthorized(SuiteError):
    status, title, slug = 401, "Unauthorized", "unauthorized"


class PaymentRequired(SuiteError):
    status, title, slug = 402, "Payment Required", "payment-required"


class Forbidden(SuiteError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(SuiteError):
    status, title, slug = 404, "Not Found", "not-found"


class MethodNotAllowed(SuiteError):
    status, title, slug = 405, "Method Not Allowed", "method-not-allowed"


class Conflict(SuiteError):
    status, title, slug = 409, "Conflict", "conflict"


class PreconditionFailed(SuiteError):
    status, title, slug = 412, "Precondition Failed", "precondition-failed"


class PayloadTooLarge(SuiteError):
    status, title, slug = 413, "Payload Too Large", "payload-too-large"


class UnsupportedMediaType(SuiteError):
    status, title, slug = 415, "Unsupported Media Type", "unsupported-media-type"


class ValidationFailed(SuiteError):
    status, title, slug = 422, "Unprocessable Content", "validation"


class TooManyRequests(SuiteError):
    status, title, slug = 429, "Too Many Requests", "rate-limited"


class ServiceUnavailable(SuiteError):
    status, title, slug = 503, "Service Unavailable", "unavailable"


class UpstreamTimeout(SuiteError):
    status, title, slug = 504, "Gateway Timeout", "timeout"


WIRE_ERRORS: dict[str, type[SuiteError]] = {
    cls.__name__: cls
    for cls in (SuiteError, BadRequest, Unauthorized, PaymentRequired, Forbidden, NotFound,
                MethodNotAllowed, Conflict, PreconditionFailed, PayloadTooLarge,
                UnsupportedMediaType, ValidationFailed, TooManyRequests, ServiceUnavailable,
                UpstreamTimeout)
}


def error_for_wire(payload: dict[str, Any]) -> SuiteError:
    """Rebuild a typed error from nameko's serialised form; unknown types become a bare 500."""
    cls = WIRE_ERRORS.get(str(payload.get("exc_type")))
    path = str(payload.get("exc_path", ""))
    if cls is None or not path.startswith("shared.errors."):
        return SuiteError()
    args = payload.get("exc_args")
    if not isinstance(args, list):  # never raise here: the caller is answering a request
        args = []
    detail = args[0] if args and isinstance(args[0], str) else ""
    errors = args[1] if len(args) > 1 and isinstance(args[1], list) else None
    extra = args[2] if len(args) > 2 and isinstance(args[2], dict) else None
    return cls(detail, errors, extra)

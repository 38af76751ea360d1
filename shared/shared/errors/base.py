"""The roots of the error tree: one class per HTTP status a typed error can map to.

Callers catch by meaning (the subclasses in the sibling modules); these roots decide the status.
"""

from __future__ import annotations

from typing import Any, ClassVar


class SuiteError(Exception):
    """Base of every error that may cross a process boundary."""

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal Server Error"
    slug: ClassVar[str] = "internal"
    code: ClassVar[str | None] = None  # set by meaning classes; clients read it in the problem

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
        if self.code is not None:
            problem["code"] = self.code
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

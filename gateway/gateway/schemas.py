"""Shapes shared by every route: strict inputs and the problem document."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from gateway.openapi_responses import problems

# Text the services store or search must not hold U+0000: PostgreSQL text cannot (a 500
# before this was said): `Field(pattern=NO_NUL)`.
NO_NUL = r"^[^\u0000]*$"
# The largest values PostgreSQL's integer and bigint columns hold: a number past its column's
# range is a 422 (or 412 for a version) at the edge, never a 500 further in.
PG_INTEGER_MAX = 2**31 - 1
PG_BIGINT_MAX = 2**63 - 1


class StrictModel(BaseModel):
    """Request bodies: unknown fields are refused (no mass assignment)."""

    model_config = ConfigDict(extra="forbid")


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    request_id: str | None
    errors: list[FieldError] | None = None


# Earlier name of gateway.openapi_responses.problems, kept for routes written against it.
problem_responses = problems

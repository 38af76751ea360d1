"""What the RPCs accept and return: validation (-> ValidationFailed with field errors) and JSON."""

from __future__ import annotations

import re
import uuid
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from auth.ports import UserRecord
from shared import display_names
from shared.errors import ValidationFailed

ROLES = ("customer", "admin")  # canonical order
DEFAULT_ROLES = ("customer",)
PASSWORD_MIN, PASSWORD_MAX = 10, 128
EMAIL_MAX = 254

# The dot-atom subset of RFC 5322 that real mailboxes use; a domain with at least one dot.
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"^(?=.{{1,64}}@){_LOCAL}@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}$")

M = TypeVar("M", bound=BaseModel)


def email_key(email: str) -> str:
    """One key per mailbox whatever the case: lookups, uniqueness and the login lockout."""
    return email.strip().lower()


def canonical_roles(roles: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    return tuple(role for role in ROLES if role in roles)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Registration(_Strict):
    email: str = Field(max_length=EMAIL_MAX)
    password: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)
    display_name: str | None = Field(default=None, min_length=1, max_length=100)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.strip()
        if not _EMAIL.fullmatch(value):
            raise ValueError("value is not a valid email address")
        return value

    @field_validator("display_name")
    @classmethod
    def _display_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not display_names.acceptable(value):  # the rule the gateway's OpenAPI states
            raise ValueError("display name must be printable and not blank")
        return value


class Credentials(_Strict):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class RefreshToken(_Strict):
    refresh_token: str = Field(min_length=1, max_length=512)


class RoleChange(_Strict):
    user_id: uuid.UUID
    roles: list[str] = Field(max_length=len(ROLES) * 4)

    @field_validator("roles")
    @classmethod
    def _known(cls, roles: list[str]) -> list[str]:
        unknown = sorted({role for role in roles if role not in ROLES})
        if unknown:
            raise ValueError(f"unknown role(s): {', '.join(unknown)}; known: {', '.join(ROLES)}")
        return roles


class UserId(_Strict):
    user_id: uuid.UUID


def parse(model: type[M], **payload: Any) -> M:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in err["loc"]) or "body",
                   "message": _message(err)} for err in exc.errors()]
        raise ValidationFailed("The request does not match the schema.", errors) from None


def _message(err: Any) -> str:
    # pydantic prefixes custom messages with "Value error, "; the input itself is never echoed.
    return str(err.get("msg", "invalid")).removeprefix("Value error, ")


def user_json(user: UserRecord) -> dict[str, Any]:
    return {"id": str(user.id), "email": user.email, "display_name": user.display_name,
            "roles": list(user.roles), "created_at": user.created_at}

"""What the RPCs accept: validation (-> ValidationFailed with field errors); views.py renders."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import uuid
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from auth.domain import ROLES, After
from shared import display_names
from shared.errors import ValidationFailed

PASSWORD_MIN, PASSWORD_MAX = 10, 128
EMAIL_MAX = 254

# The dot-atom subset of RFC 5322 that real mailboxes use; a domain with at least one dot.
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"^(?=.{{1,64}}@){_LOCAL}@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}$")

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Registration(Strict):
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


class Credentials(Strict):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class RefreshToken(Strict):
    refresh_token: str = Field(min_length=1, max_length=512)


class RoleChange(Strict):
    user_id: uuid.UUID
    roles: list[str] = Field(max_length=len(ROLES) * 4)

    @field_validator("roles")
    @classmethod
    def _known(cls, roles: list[str]) -> list[str]:
        unknown = sorted({role for role in roles if role not in ROLES})
        if unknown:
            raise ValueError(f"unknown role(s): {', '.join(unknown)}; known: {', '.join(ROLES)}")
        return roles


class UserId(Strict):
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


class UserSearch(Strict):
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=200)
    q: str | None = Field(default=None, max_length=200)


def decode_cursor(cursor: str) -> After:
    """views.encode_cursor's inverse: base64url of `<created_at ISO>|<id>`, opaque to clients."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, user_id = raw.partition("|")
        return dt.datetime.fromisoformat(stamp), uuid.UUID(user_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed("The request does not match the schema.",
                               [{"field": "cursor", "message": "not a cursor from this API"}]
                               ) from None

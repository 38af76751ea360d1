"""Auth's records and pure rules: accounts, roles, refresh-token families, the sign-in lockout."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass

ROLES = ("customer", "admin")  # canonical order
DEFAULT_ROLES = ("customer",)
ADMIN = "admin"
# Failed sign-ins allowed per email within the window; the next one is refused until one ages out.
LOCKOUT_LIMIT, LOCKOUT_WINDOW_SECONDS = 5, 15 * 60


@dataclass(frozen=True)
class UserRecord:
    id: uuid.UUID
    email: str
    email_key: str  # lower-cased email: what uniqueness and lookups use
    display_name: str | None
    password_hash: str
    roles: tuple[str, ...]
    created_at: dt.datetime


@dataclass(frozen=True)
class RefreshRecord:
    family_id: uuid.UUID
    user_id: uuid.UUID
    expires_at: dt.datetime
    spent: bool
    family_revoked: bool


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str
    token_type: str = "Bearer"


# Newest first: a page of the user directory continues strictly after (created_at, id).
After = tuple[dt.datetime, uuid.UUID]


def email_key(email: str) -> str:
    """One key per mailbox whatever the case: lookups, uniqueness and the login lockout."""
    return email.strip().lower()


def canonical_roles(roles: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    return tuple(role for role in ROLES if role in roles)


def hash_refresh_token(token: str) -> bytes:
    # 256 random bits need no slow hash: SHA-256 makes a stolen table useless for sign-ins.
    return hashlib.sha256(token.encode()).digest()


def sessions_revoked_at(now: dt.datetime) -> int:
    """`not_before_ms` of a revocation: every access token issued until now stops counting."""
    return int(now.timestamp() * 1000) + 1

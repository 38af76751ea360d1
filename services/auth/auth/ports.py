"""What the use cases need from the outside world: postgres.py implements the storage ports,
passwords.py and access_tokens.py the others; tests/unit/fakes.py holds in-memory fakes."""

from __future__ import annotations

import datetime as dt
import uuid
from contextlib import AbstractContextManager
from typing import Any, Protocol

from auth.domain import After, RefreshRecord, UserRecord


class Users(Protocol):
    def lock_email(self, email_key: str) -> None: ...  # until the transaction ends
    def by_email(self, email_key: str) -> UserRecord | None: ...
    def by_id(self, user_id: uuid.UUID, lock: bool = False) -> UserRecord | None: ...
    def insert(self, user: UserRecord) -> bool: ...  # False: the email is taken
    def set_password(self, user_id: uuid.UUID, password_hash: str) -> None: ...
    def set_roles(self, user_id: uuid.UUID, roles: tuple[str, ...]) -> UserRecord | None: ...
    # Newest first, strictly after `after`; `query` matches a substring of email or name.
    def search(self, query: str | None, after: After | None, limit: int) -> list[UserRecord]: ...


class RefreshTokens(Protocol):
    def start_family(self, family_id: uuid.UUID, user_id: uuid.UUID) -> None: ...
    def add(self, token_hash: bytes, family_id: uuid.UUID, expires_at: dt.datetime) -> None: ...
    # Locks the token's family until the transaction ends, so refreshes of one family queue.
    def lock(self, token_hash: bytes) -> RefreshRecord | None: ...
    def spend(self, token_hash: bytes) -> None: ...
    def revoke_family(self, family_id: uuid.UUID) -> None: ...


class LoginThrottle(Protocol):
    # Counts one attempt for `email_key` unless `limit` were made within `window_seconds`.
    # Returns (attempt id, 0) or (None, seconds until the next attempt is allowed).
    def reserve(self, email_key: str, limit: int,
                window_seconds: int) -> tuple[int | None, int]: ...
    def release(self, attempt_id: int) -> None: ...  # the attempt did not happen after all
    def clear(self, email_key: str) -> None: ...  # a successful login resets the count


class Events(Protocol):
    def record(self, event_type: str, fields: dict[str, Any]) -> None: ...


class Transaction(Protocol):
    """One database transaction: commits when its `with` block exits normally."""

    @property
    def users(self) -> Users: ...
    @property
    def refresh(self) -> RefreshTokens: ...
    @property
    def throttle(self) -> LoginThrottle: ...
    @property
    def events(self) -> Events: ...


class Store(Protocol):
    def transaction(self) -> AbstractContextManager[Transaction]: ...


class Passwords(Protocol):
    def hash(self, password: str) -> str: ...
    def verify(self, password_hash: str, password: str) -> bool: ...
    def needs_rehash(self, password_hash: str) -> bool: ...
    def verify_dummy(self, password: str) -> None: ...  # same cost as verify, always fails


class TokenIssuer(Protocol):
    def issue(self, user_id: uuid.UUID, roles: tuple[str, ...]) -> tuple[str, int]: ...

"""Auth's account use cases: plain functions over the ports (ports.py). Sign-in sessions (login,
refresh, logout) are in sessions.py."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from auth import errors
from auth.domain import (
    ADMIN,
    DEFAULT_ROLES,
    After,
    UserRecord,
    canonical_roles,
    email_key,
    sessions_revoked_at,
)
from auth.ports import Passwords, Store, TokenIssuer, Transaction
from shared.wire import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Deps:
    store: Store
    passwords: Passwords
    tokens: TokenIssuer
    refresh_ttl: dt.timedelta
    clock: Callable[[], dt.datetime] = utcnow


def register(deps: Deps, email: str, password: str, display_name: str | None) -> UserRecord:
    password_hash = deps.passwords.hash(password)  # before the transaction: no held conn
    user = UserRecord(id=uuid.uuid4(), email=email, email_key=email_key(email),
                      display_name=display_name, password_hash=password_hash,
                      roles=DEFAULT_ROLES, created_at=deps.clock())
    with deps.store.transaction() as tx:
        if not tx.users.insert(user):
            raise errors.email_taken()
        _registered(tx, user)
    return user


def get_user(deps: Deps, user_id: uuid.UUID) -> UserRecord:
    with deps.store.transaction() as tx:
        user = tx.users.by_id(user_id)
    if user is None:
        raise errors.user_not_found()
    return user


def set_roles(deps: Deps, user_id: uuid.UUID, roles: list[str]) -> UserRecord:
    wanted = canonical_roles(roles)
    with deps.store.transaction() as tx:
        user = tx.users.by_id(user_id, lock=True)
        if user is None:
            raise errors.user_not_found()
        if user.roles == wanted:
            return user  # no change, no event
        updated = tx.users.set_roles(user_id, wanted)
        assert updated is not None
        tx.events.record("user_roles_changed", {"user_id": str(user_id), "roles": list(wanted)})
        revoke_sessions(deps, tx, user_id, "roles_changed")
    return updated


def list_users(deps: Deps, query: str | None, after: After | None,
               limit: int) -> tuple[list[UserRecord], bool]:
    """A page of the directory, newest first, and whether more follow."""
    with deps.store.transaction() as tx:
        found = tx.users.search((query or "").strip() or None, after, limit + 1)
    return found[:limit], len(found) > limit


def ensure_admin(deps: Deps, email: str, password: str) -> None:
    """With ADMIN_EMAIL and ADMIN_PASSWORD set, that admin exists after start-up. Idempotent, and
    replicas starting at once serialise on a per-email lock: the loser finds the account."""
    key = email_key(email)
    with deps.store.transaction() as tx:
        tx.users.lock_email(key)
        user = tx.users.by_email(key)
        if user is None:
            user = UserRecord(id=uuid.uuid4(), email=email, email_key=key, display_name=None,
                              password_hash=deps.passwords.hash(password), created_at=deps.clock(),
                              roles=canonical_roles([*DEFAULT_ROLES, ADMIN]))
            if tx.users.insert(user):  # else a concurrent sign-up won: update it below
                _registered(tx, user)
                _roles_changed(tx, user.id, user.roles)
                log.info("admin account created", extra={"user_id": str(user.id)})
                return
            user = tx.users.by_email(key)
            assert user is not None
        roles = canonical_roles([*user.roles, ADMIN])
        if roles != user.roles:
            tx.users.set_roles(user.id, roles)
            _roles_changed(tx, user.id, roles)
        if (deps.passwords.needs_rehash(user.password_hash)
                or not deps.passwords.verify(user.password_hash, password)):
            tx.users.set_password(user.id, deps.passwords.hash(password))
            log.info("admin password reset from ADMIN_PASSWORD", extra={"user_id": str(user.id)})


def revoke_sessions(deps: Deps, tx: Transaction, user_id: uuid.UUID, reason: str) -> None:
    """Access tokens issued until now stop counting everywhere within seconds (the event), not
    at their expiry; the user's next refresh or login gets a fresh one."""
    tx.events.record("user_sessions_revoked", {
        "user_id": str(user_id), "reason": reason,
        "not_before_ms": sessions_revoked_at(deps.clock())})


def _registered(tx: Transaction, user: UserRecord) -> None:
    tx.events.record("user_registered", {"user_id": str(user.id), "email": user.email})


def _roles_changed(tx: Transaction, user_id: uuid.UUID, roles: tuple[str, ...]) -> None:
    tx.events.record("user_roles_changed", {"user_id": str(user_id), "roles": list(roles)})

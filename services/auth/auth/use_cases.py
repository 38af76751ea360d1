"""Auth use cases: plain functions over the ports (ports.py); nothing here knows nameko."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from auth.ports import Passwords, Store, TokenIssuer, Tx, UserRecord
from auth.schemas import DEFAULT_ROLES, Credentials, Registration, canonical_roles, email_key
from shared.errors import Conflict, NotFound, ServiceUnavailable, TooManyRequests, Unauthorized
from shared.wire import utcnow

log = logging.getLogger(__name__)

BAD_CREDENTIALS = "The email or password is incorrect."
BAD_REFRESH = "The refresh token is invalid, expired or revoked."
LOCKOUT_LIMIT, LOCKOUT_WINDOW_SECONDS = 5, 15 * 60


@dataclass(frozen=True)
class Deps:
    store: Store
    passwords: Passwords
    tokens: TokenIssuer
    refresh_ttl: dt.timedelta
    clock: Callable[[], dt.datetime] = utcnow


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str
    token_type: str = "Bearer"


def hash_refresh_token(token: str) -> bytes:
    # 256 random bits need no slow hash: SHA-256 makes a stolen table useless for sign-ins.
    return hashlib.sha256(token.encode()).digest()


def register(deps: Deps, data: Registration) -> UserRecord:
    password_hash = deps.passwords.hash(data.password)  # before the transaction: no held conn
    user = UserRecord(id=uuid.uuid4(), email=data.email, email_key=email_key(data.email),
                      display_name=data.display_name, password_hash=password_hash,
                      roles=DEFAULT_ROLES, created_at=deps.clock())
    with deps.store.transaction() as tx:
        if not tx.users.insert(user):
            raise Conflict("An account with this email already exists.")
        tx.events.record("user_registered", {"user_id": str(user.id), "email": user.email})
    return user


def login(deps: Deps, creds: Credentials) -> TokenPair:
    key = email_key(creds.email)
    with deps.store.transaction() as tx:
        attempt, retry_after = tx.throttle.reserve(key, LOCKOUT_LIMIT, LOCKOUT_WINDOW_SECONDS)
        user = tx.users.by_email(key) if attempt is not None else None
    if attempt is None:
        raise TooManyRequests("Too many failed sign-ins for this email; try again later.",
                              extra={"retry_after": retry_after})
    try:
        if user is None:
            deps.passwords.verify_dummy(creds.password)  # as slow as a real check
            ok = False
        else:
            ok = deps.passwords.verify(user.password_hash, creds.password)
    except BaseException:
        with deps.store.transaction() as tx:
            tx.throttle.release(attempt)  # not checked (e.g. shed): not a failed attempt
        raise
    if not ok or user is None:
        raise Unauthorized(BAD_CREDENTIALS)
    new_hash = _rehashed(deps.passwords, user.password_hash, creds.password)
    with deps.store.transaction() as tx:
        tx.throttle.clear(key)
        if new_hash is not None:
            tx.users.set_password(user.id, new_hash)
        family_id = uuid.uuid4()
        tx.refresh.start_family(family_id, user.id)
        return _issue(deps, tx, user, family_id)


def _rehashed(passwords: Passwords, password_hash: str, password: str) -> str | None:
    """A hash with today's parameters when the stored one is weaker; best effort."""
    if not passwords.needs_rehash(password_hash):
        return None
    try:
        return passwords.hash(password)
    except ServiceUnavailable:
        return None  # busy: the next sign-in upgrades it


def refresh(deps: Deps, token: str) -> TokenPair:
    token_hash = hash_refresh_token(token)
    with deps.store.transaction() as tx:
        record = tx.refresh.lock(token_hash)
        if record is None or record.family_revoked:
            raise Unauthorized(BAD_REFRESH)
        if record.spent:
            # A spent token came back: it leaked or was stolen. Kill the family (committed).
            tx.refresh.revoke_family(record.family_id)
            log.warning("spent refresh token presented; its family is revoked",
                        extra={"family_id": str(record.family_id),
                               "user_id": str(record.user_id)})
            pair = None
        else:
            user = tx.users.by_id(record.user_id)
            if record.expires_at <= deps.clock() or user is None:
                raise Unauthorized(BAD_REFRESH)
            tx.refresh.spend(token_hash)
            pair = _issue(deps, tx, user, record.family_id)
    if pair is None:
        raise Unauthorized(BAD_REFRESH)
    return pair


def logout(deps: Deps, token: str) -> None:
    with deps.store.transaction() as tx:
        record = tx.refresh.lock(hash_refresh_token(token))
        if record is not None:
            tx.refresh.revoke_family(record.family_id)
            _revoke_sessions(deps, tx, record.user_id, "logout")


def get_user(deps: Deps, user_id: uuid.UUID) -> UserRecord:
    with deps.store.transaction() as tx:
        user = tx.users.by_id(user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def set_roles(deps: Deps, user_id: uuid.UUID, roles: list[str]) -> UserRecord:
    wanted = canonical_roles(roles)
    with deps.store.transaction() as tx:
        user = tx.users.by_id(user_id, lock=True)
        if user is None:
            raise NotFound("No such user.")
        if user.roles == wanted:
            return user  # no change, no event
        updated = tx.users.set_roles(user_id, wanted)
        assert updated is not None
        tx.events.record("user_roles_changed", {"user_id": str(user_id), "roles": list(wanted)})
        _revoke_sessions(deps, tx, user_id, "roles_changed")
    return updated


def _revoke_sessions(deps: Deps, tx: Tx, user_id: uuid.UUID, reason: str) -> None:
    """Access tokens issued until now stop counting everywhere within seconds (the event), not
    at their expiry; the user's next refresh or login gets a fresh one."""
    not_before_ms = int(deps.clock().timestamp() * 1000) + 1
    tx.events.record("user_sessions_revoked", {"user_id": str(user_id), "reason": reason,
                                               "not_before_ms": not_before_ms})


def _issue(deps: Deps, tx: Tx, user: UserRecord, family_id: uuid.UUID) -> TokenPair:
    refresh_token = secrets.token_urlsafe(32)
    tx.refresh.add(hash_refresh_token(refresh_token), family_id, deps.clock() + deps.refresh_ttl)
    access_token, expires_in = deps.tokens.issue(user.id, user.roles)
    return TokenPair(access_token=access_token, expires_in=expires_in,
                     refresh_token=refresh_token)

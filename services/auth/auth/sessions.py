"""Sign-in sessions: login (with its lockout), refresh-token rotation within a family, logout.

One family per login; every refresh spends its token and adds the next one. A spent token that
comes back has leaked: its whole family is revoked.
"""

from __future__ import annotations

import logging
import secrets
import uuid

from auth import errors
from auth.domain import (
    LOCKOUT_LIMIT,
    LOCKOUT_WINDOW_SECONDS,
    TokenPair,
    UserRecord,
    email_key,
    hash_refresh_token,
)
from auth.ports import Passwords, Transaction
from auth.use_cases import Deps, revoke_sessions
from shared.errors import ServiceUnavailable

log = logging.getLogger(__name__)


def login(deps: Deps, email: str, password: str) -> TokenPair:
    key = email_key(email)
    with deps.store.transaction() as tx:
        attempt, retry_after = tx.throttle.reserve(key, LOCKOUT_LIMIT, LOCKOUT_WINDOW_SECONDS)
        user = tx.users.by_email(key) if attempt is not None else None
    if attempt is None:
        raise errors.login_throttled(retry_after)
    try:
        if user is None:
            deps.passwords.verify_dummy(password)  # as slow as a real check
            ok = False
        else:
            ok = deps.passwords.verify(user.password_hash, password)
    except BaseException:
        with deps.store.transaction() as tx:
            tx.throttle.release(attempt)  # not checked (e.g. shed): not a failed attempt
        raise
    if not ok or user is None:
        raise errors.bad_credentials()
    new_hash = _rehashed(deps.passwords, user.password_hash, password)
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
            raise errors.refresh_rejected()
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
                raise errors.refresh_rejected()
            tx.refresh.spend(token_hash)
            pair = _issue(deps, tx, user, record.family_id)
    if pair is None:
        raise errors.refresh_rejected()
    return pair


def logout(deps: Deps, token: str) -> None:
    with deps.store.transaction() as tx:
        record = tx.refresh.lock(hash_refresh_token(token))
        if record is not None:
            tx.refresh.revoke_family(record.family_id)
            revoke_sessions(deps, tx, record.user_id, "logout")


def _issue(deps: Deps, tx: Transaction, user: UserRecord, family_id: uuid.UUID) -> TokenPair:
    refresh_token = secrets.token_urlsafe(32)
    tx.refresh.add(hash_refresh_token(refresh_token), family_id, deps.clock() + deps.refresh_ttl)
    access_token, expires_in = deps.tokens.issue(user.id, user.roles)
    return TokenPair(access_token=access_token, expires_in=expires_in,
                     refresh_token=refresh_token)

"""The PostgreSQL adapter: all of auth's SQL, behind the storage ports of ports.py."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from auth import signing_keys as keys
from auth.domain import After, RefreshRecord, UserRecord
from auth.model import login_failures, outbox, refresh_families, refresh_tokens, signing_keys, users
from shared.db import UnitOfWorkFactory
from shared.messaging.outbox import record_event

SOURCE = "auth"
_DEV_KEY_LOCK = 0x617574686B657973  # pg advisory lock id ("authkeys"): one generator at a time
# hashtextextended seeds: the email lock and the throttle lock of one email are distinct locks.
_EMAIL_LOCK, _THROTTLE_LOCK = 1, 2
_ADVISORY = text("SELECT pg_advisory_xact_lock(hashtextextended(:k, :seed))")


def _user(row: Any) -> UserRecord:
    return UserRecord(id=row.id, email=row.email, email_key=row.email_key,
                      display_name=row.display_name, password_hash=row.password_hash,
                      roles=tuple(row.roles), created_at=row.created_at)


def _like(query: str) -> str:
    return "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class _OnSession:
    def __init__(self, session: Session) -> None:
        self.session = session


class SqlUsers(_OnSession):
    def lock_email(self, email_key: str) -> None:
        self.session.execute(_ADVISORY, {"k": email_key, "seed": _EMAIL_LOCK})

    def by_email(self, email_key: str) -> UserRecord | None:
        row = self.session.execute(select(users).where(users.c.email_key == email_key)).first()
        return _user(row) if row else None

    def by_id(self, user_id: uuid.UUID, lock: bool = False) -> UserRecord | None:
        query = select(users).where(users.c.id == user_id)
        row = self.session.execute(query.with_for_update() if lock else query).first()
        return _user(row) if row else None

    def insert(self, user: UserRecord) -> bool:
        statement = pg_insert(users).values(
            id=user.id, email=user.email, email_key=user.email_key,
            display_name=user.display_name, password_hash=user.password_hash,
            roles=list(user.roles), created_at=user.created_at,
        ).on_conflict_do_nothing(index_elements=["email_key"]).returning(users.c.id)
        return self.session.execute(statement).first() is not None

    def set_password(self, user_id: uuid.UUID, password_hash: str) -> None:
        self.session.execute(update(users).where(users.c.id == user_id).values(
            password_hash=password_hash, updated_at=func.now()))

    def set_roles(self, user_id: uuid.UUID, roles: tuple[str, ...]) -> UserRecord | None:
        row = self.session.execute(update(users).where(users.c.id == user_id).values(
            roles=list(roles), updated_at=func.now()).returning(*users.c)).first()
        return _user(row) if row else None

    def search(self, query: str | None, after: After | None, limit: int) -> list[UserRecord]:
        statement = select(users).order_by(users.c.created_at.desc(), users.c.id.desc())
        if query:
            statement = statement.where(or_(users.c.email.ilike(_like(query), escape="\\"),
                                            users.c.display_name.ilike(_like(query), escape="\\")))
        if after is not None:
            statement = statement.where(tuple_(users.c.created_at, users.c.id) < tuple_(*after))
        return [_user(row) for row in self.session.execute(statement.limit(limit))]


class SqlRefreshTokens(_OnSession):
    def start_family(self, family_id: uuid.UUID, user_id: uuid.UUID) -> None:
        self.session.execute(insert(refresh_families).values(id=family_id, user_id=user_id))

    def add(self, token_hash: bytes, family_id: uuid.UUID, expires_at: dt.datetime) -> None:
        self.session.execute(insert(refresh_tokens).values(
            token_hash=token_hash, family_id=family_id, expires_at=expires_at))

    def lock(self, token_hash: bytes) -> RefreshRecord | None:
        t, f = refresh_tokens, refresh_families
        query = (select(t.c.family_id, t.c.expires_at, t.c.spent_at, f.c.user_id, f.c.revoked_at)
                 .join(f, f.c.id == t.c.family_id).where(t.c.token_hash == token_hash)
                 # Lock the token row too: a transaction that waited here re-reads only the rows
                 # it locked, so without it a concurrent refresh sees a stale unspent token.
                 .with_for_update(of=(t, f)))
        row = self.session.execute(query).first()
        if row is None:
            return None
        return RefreshRecord(family_id=row.family_id, user_id=row.user_id,
                             expires_at=row.expires_at, spent=row.spent_at is not None,
                             family_revoked=row.revoked_at is not None)

    def spend(self, token_hash: bytes) -> None:
        self.session.execute(update(refresh_tokens).where(
            refresh_tokens.c.token_hash == token_hash).values(spent_at=func.now()))

    def revoke_family(self, family_id: uuid.UUID) -> None:
        self.session.execute(update(refresh_families).where(
            refresh_families.c.id == family_id, refresh_families.c.revoked_at.is_(None),
        ).values(revoked_at=func.now()))


class SqlLoginThrottle(_OnSession):
    """A sliding window over one row per attempt. The advisory lock makes check-and-count one
    step per email, so concurrent attempts can't all slip in under the limit."""

    def reserve(self, email_key: str, limit: int, window_seconds: int) -> tuple[int | None, int]:
        self.session.execute(_ADVISORY, {"k": email_key, "seed": _THROTTLE_LOCK})
        mine = login_failures.c.email_key == email_key
        cutoff = func.now() - dt.timedelta(seconds=window_seconds)
        self.session.execute(delete(login_failures).where(mine,
                                                          login_failures.c.failed_at < cutoff))
        # The limit-th most recent attempt: once it leaves the window, one more is allowed.
        blocking = self.session.execute(
            select(func.extract("epoch", login_failures.c.failed_at - cutoff)).where(mine)
            .order_by(login_failures.c.failed_at.desc()).offset(limit - 1).limit(1)).scalar()
        if blocking is not None:
            return None, max(1, int(float(blocking)) + 1)
        attempt_id = self.session.execute(insert(login_failures).values(
            email_key=email_key).returning(login_failures.c.id)).scalar_one()
        return int(attempt_id), 0

    def release(self, attempt_id: int) -> None:
        self.session.execute(delete(login_failures).where(login_failures.c.id == attempt_id))

    def clear(self, email_key: str) -> None:
        self.session.execute(delete(login_failures).where(login_failures.c.email_key == email_key))


class SqlEvents(_OnSession):
    def record(self, event_type: str, fields: dict[str, Any]) -> None:
        record_event(self.session, outbox, SOURCE, event_type, fields)


class SqlTransaction:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.users = SqlUsers(session)
        self.refresh = SqlRefreshTokens(session)
        self.throttle = SqlLoginThrottle(session)
        self.events = SqlEvents(session)


class PostgresStore:
    def __init__(self, factory: UnitOfWorkFactory) -> None:
        self.factory = factory

    @contextmanager
    def transaction(self) -> Iterator[SqlTransaction]:
        with self.factory() as uow:
            yield SqlTransaction(uow.session)


def dev_signing_keys(factory: UnitOfWorkFactory) -> keys.KeyRing:
    """The generated development key(s), newest first; the first replica to start creates one
    (under an advisory lock, so concurrent starts agree on a single key)."""
    with factory() as uow:
        uow.session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _DEV_KEY_LOCK})
        rows = uow.session.execute(select(signing_keys).order_by(
            signing_keys.c.created_at.desc(), signing_keys.c.kid)).all()
        if rows:
            return keys.KeyRing([keys.from_pem(row.private_key_pem, row.kid) for row in rows])
        key = keys.generate()
        uow.session.execute(insert(signing_keys).values(kid=key.kid,
                                                        private_key_pem=key.private_pem()))
        return keys.KeyRing([key])

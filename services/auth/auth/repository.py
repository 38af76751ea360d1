"""PostgreSQL implementation of the storage ports (see ports.py): users, events, the store."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import func, insert, or_, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from auth import keys
from auth.model import outbox, signing_keys, users
from auth.ports import UserRecord
from auth.token_store import SqlLoginThrottle, SqlRefreshTokens
from shared.db import UnitOfWorkFactory
from shared.messaging.outbox import record_event

SOURCE = "auth"
_DEV_KEY_LOCK = 0x617574686B657973  # pg advisory lock id ("authkeys"): one generator at a time


def _user(row: Any) -> UserRecord:
    return UserRecord(id=row.id, email=row.email, email_key=row.email_key,
                      display_name=row.display_name, password_hash=row.password_hash,
                      roles=tuple(row.roles), created_at=row.created_at)


class SqlUsers:
    def __init__(self, session: Session) -> None:
        self.session = session

    def lock_email(self, email_key: str) -> None:
        self.session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 1))"),
                             {"k": email_key})

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


    def search(self, query: str | None, after: tuple[dt.datetime, uuid.UUID] | None,
               limit: int) -> list[UserRecord]:
        statement = select(users).order_by(users.c.created_at.desc(), users.c.id.desc())
        if query:
            pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace(
                "_", "\\_") + "%"
            statement = statement.where(or_(users.c.email.ilike(pattern, escape="\\"),
                                            users.c.display_name.ilike(pattern, escape="\\")))
        if after is not None:
            statement = statement.where(tuple_(users.c.created_at, users.c.id) < tuple_(*after))
        return [_user(row) for row in self.session.execute(statement.limit(limit))]


class SqlEvents:
    def __init__(self, session: Session) -> None:
        self.session = session

    def record(self, event_type: str, fields: dict[str, Any]) -> None:
        record_event(self.session, outbox, SOURCE, event_type, fields)


class SqlTx:
    def __init__(self, session: Session) -> None:
        self.users = SqlUsers(session)
        self.refresh = SqlRefreshTokens(session)
        self.throttle = SqlLoginThrottle(session)
        self.events = SqlEvents(session)


class SqlStore:
    def __init__(self, factory: UnitOfWorkFactory) -> None:
        self.factory = factory

    @contextmanager
    def transaction(self) -> Iterator[SqlTx]:
        with self.factory() as uow:
            yield SqlTx(uow.session)


def dev_signing_keys(factory: UnitOfWorkFactory) -> keys.KeyRing:
    """The generated development key(s), newest first; the first replica to start creates one
    (under an advisory lock, so concurrent starts agree on a single key)."""
    with factory() as uow:
        session = uow.session
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _DEV_KEY_LOCK})
        query = select(signing_keys).order_by(signing_keys.c.created_at.desc(),
                                              signing_keys.c.kid)
        rows = session.execute(query).all()
        if not rows:
            key = keys.generate()
            session.execute(insert(signing_keys).values(kid=key.kid,
                                                        private_key_pem=key.private_pem()))
            return keys.KeyRing([key])
        return keys.KeyRing([keys.from_pem(row.private_key_pem, row.kid) for row in rows])

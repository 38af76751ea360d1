"""PostgreSQL implementation of the refresh-token and login-throttle ports (see ports.py)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from auth.model import login_failures, refresh_families, refresh_tokens
from auth.ports import RefreshRecord


class SqlRefreshTokens:
    def __init__(self, session: Session) -> None:
        self.session = session

    def start_family(self, family_id: uuid.UUID, user_id: uuid.UUID) -> None:
        self.session.execute(insert(refresh_families).values(id=family_id, user_id=user_id))

    def add(self, token_hash: bytes, family_id: uuid.UUID, expires_at: dt.datetime) -> None:
        self.session.execute(insert(refresh_tokens).values(
            token_hash=token_hash, family_id=family_id, expires_at=expires_at))

    def lock(self, token_hash: bytes) -> RefreshRecord | None:
        query = (select(refresh_tokens.c.family_id, refresh_tokens.c.expires_at,
                        refresh_tokens.c.spent_at, refresh_families.c.user_id,
                        refresh_families.c.revoked_at)
                 .join(refresh_families, refresh_families.c.id == refresh_tokens.c.family_id)
                 .where(refresh_tokens.c.token_hash == token_hash)
                 # Lock the token row too: a transaction that waited here re-reads only the rows
                 # it locked, so without it a concurrent refresh sees a stale unspent token.
                 .with_for_update(of=(refresh_tokens, refresh_families)))
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


class SqlLoginThrottle:
    """A sliding window over one row per attempt. The advisory lock makes check-and-count one
    step per email, so concurrent attempts can't all slip in under the limit."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def reserve(self, email_key: str, limit: int,
                window_seconds: int) -> tuple[int | None, int]:
        self.session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 2))"),
                             {"k": email_key})
        cutoff = func.now() - dt.timedelta(seconds=window_seconds)
        self.session.execute(delete(login_failures).where(
            login_failures.c.email_key == email_key, login_failures.c.failed_at < cutoff))
        # The limit-th most recent attempt: once it leaves the window, one more is allowed.
        blocking = self.session.execute(
            select(func.extract("epoch", login_failures.c.failed_at - cutoff))
            .where(login_failures.c.email_key == email_key)
            .order_by(login_failures.c.failed_at.desc()).offset(limit - 1).limit(1)).scalar()
        if blocking is not None:
            return None, max(1, int(float(blocking)) + 1)
        attempt_id = self.session.execute(insert(login_failures).values(
            email_key=email_key).returning(login_failures.c.id)).scalar_one()
        return int(attempt_id), 0

    def release(self, attempt_id: int) -> None:
        self.session.execute(delete(login_failures).where(login_failures.c.id == attempt_id))

    def clear(self, email_key: str) -> None:
        self.session.execute(delete(login_failures).where(
            login_failures.c.email_key == email_key))

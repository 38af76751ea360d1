"""SQLAlchemy 2 engine and unit of work: commit on success, roll back on any error."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, pool_size: int = 10) -> Engine:
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size,
                         pool_pre_ping=True, pool_recycle=1800)


class UnitOfWork:
    """One database transaction. Use as `with uow: ...`; it commits unless the block raised."""

    def __init__(self, session_factory: Callable[[], Session]) -> None:
        self._session_factory = session_factory
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("UnitOfWork used outside its `with` block")
        return self._session

    def __enter__(self) -> UnitOfWork:
        self._session = self._session_factory()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        session, self._session = self.session, None
        try:
            if exc_type is None:
                session.commit()
            else:
                session.rollback()
        finally:
            session.close()


class UnitOfWorkFactory:
    """Hands out fresh units of work bound to one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False)

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self._sessions)

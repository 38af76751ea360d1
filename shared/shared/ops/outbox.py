"""Outbox lag per service, read from each service's own database (`<SVC>_DATABASE_URL`)."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from shared.messaging.lag import outbox_lag
from shared.messaging.topology import SERVICES
from shared.settings import default_database_url, normalise_database_url


def database_url(service: str) -> str:
    return normalise_database_url(os.environ.get(f"{service.upper()}_DATABASE_URL")
                                  or default_database_url(service))


def lags() -> list[dict[str, Any]]:
    """One row per service; a database that cannot be read is reported, not fatal."""
    rows: list[dict[str, Any]] = []
    for service in SERVICES:
        engine = create_engine(database_url(service), poolclass=NullPool,
                               connect_args={"connect_timeout": 3})
        try:
            lag = outbox_lag(engine)
        except SQLAlchemyError as exc:
            # The class name only: the message can carry the URL, password included.
            rows.append({"service": service, "pending": None, "oldest_age_seconds": None,
                         "error": type(getattr(exc, "orig", None) or exc).__name__})
        else:
            rows.append({"service": service, "pending": lag.pending,
                         "oldest_age_seconds": round(lag.oldest_age_seconds, 3), "error": None})
        finally:
            engine.dispose()
    return rows

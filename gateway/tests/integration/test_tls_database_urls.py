"""PostgreSQL TLS settings in the services' database URLs reach libpq unchanged.

The local server has no TLS, which makes the proof easy: `sslmode=require` must fail with libpq's
own "SSL was required" (so the parameter got there), `sslmode=disable` must connect.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from catalog.config import CatalogSettings
from shared.db import make_engine
from shared.messaging.notify import Listener

SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


def test_the_settings_keep_the_query():
    url = f"{SERVER}?sslmode=verify-full&sslrootcert=/etc/ssl/ca.pem"
    settings = CatalogSettings(CATALOG_DATABASE_URL=url)
    assert settings.database_url == url


def test_the_engines_pass_sslmode_to_libpq():
    engine = make_engine(f"{SERVER}?sslmode=disable", pool_size=1)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
    engine.dispose()
    engine = make_engine(f"{SERVER}?sslmode=require", pool_size=1)
    with pytest.raises(OperationalError, match="SSL was required"):
        engine.connect()
    engine.dispose()


def test_the_outbox_listener_passes_sslmode_to_libpq():
    import psycopg2

    # `_connect`: `wait` reports a failed connection as "nothing yet" (the relay polls anyway).
    with pytest.raises(psycopg2.OperationalError, match="SSL was required"):
        Listener(f"{SERVER}?sslmode=require")._connect()
    listener = Listener(f"{SERVER}?sslmode=disable")
    assert not listener._connect().closed
    listener.close()

"""What every service's Alembic `env.py` does, so each env.py stays three lines."""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData, create_engine, pool


def run(url: str, metadata: MetaData | None = None) -> None:
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()

"""The catalog's one PostgreSQL adapter: every SQL statement, and the only code below
service.py that touches a SQLAlchemy Session or Connection."""

from catalog.postgres.reads import ProductReader
from catalog.postgres.store import (
    SOURCE,
    PostgresStore,
    PostgresTransaction,
    add_products,
    reservation_gauges,
)

__all__ = ["SOURCE", "PostgresStore", "PostgresTransaction", "ProductReader", "add_products",
           "reservation_gauges"]

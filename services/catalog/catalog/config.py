"""The catalog process's one settings object, read from the environment."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from shared.settings import ServiceSettings, default_database_url, load


class CatalogSettings(ServiceSettings):
    database_url: str = Field(default=default_database_url("catalog"),
                              validation_alias="CATALOG_DATABASE_URL")
    # An unpaid reservation holds its units this long, then the sweeper gives them back.
    reservation_ttl_seconds: float = Field(default=900.0, gt=0,
                                           validation_alias="RESERVATION_TTL_SECONDS")
    # How often the sweeper looks for expired reservations.
    reservation_sweep_seconds: float = Field(default=5.0, gt=0,
                                             validation_alias="RESERVATION_SWEEP_SECONDS")


@lru_cache(maxsize=1)
def settings() -> CatalogSettings:
    return load(CatalogSettings)

"""The catalog process's one settings object, read from the environment."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from shared.settings import ServiceSettings, default_database_url


class CatalogSettings(ServiceSettings):
    database_url: str = Field(default=default_database_url("catalog"),
                              validation_alias="CATALOG_DATABASE_URL")


@lru_cache(maxsize=1)
def settings() -> CatalogSettings:
    return CatalogSettings()

"""The payments process's one settings object, read from the environment."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from shared.settings import ServiceSettings, default_database_url


class PaymentsSettings(ServiceSettings):
    database_url: str = Field(default=default_database_url("payments"),
                              validation_alias="PAYMENTS_DATABASE_URL")


@lru_cache(maxsize=1)
def settings() -> PaymentsSettings:
    return PaymentsSettings()

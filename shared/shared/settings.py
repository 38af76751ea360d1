"""Settings read once per process from the environment."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"


def default_database_url(name: str) -> str:
    return f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"


class ServiceSettings(BaseSettings):
    """What every nameko service reads; each service subclasses it with its own database URL."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    amqp_uri: str = Field(default=DEFAULT_AMQP_URI, validation_alias="AMQP_URI")
    rpc_timeout: float = Field(default=5.0, gt=0, validation_alias="RPC_TIMEOUT")
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    db_pool_size: int = Field(default=10, ge=1, validation_alias="DB_POOL_SIZE")
    max_workers: int = Field(default=10, ge=1, validation_alias="MAX_WORKERS")
    # Each service redeclares this with its own default and environment variable.
    database_url: str = ""


DEFAULT_AUTH_ISSUER = "https://auth.commerce-suite.dev"
DEFAULT_AUTH_AUDIENCE = "commerce-suite"


class TokenSettings(BaseSettings):
    """Who issues access tokens and for whom: every process (auth, services, gateway) reads the
    same two variables, so a token minted by auth verifies everywhere."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    auth_issuer: str = Field(default=DEFAULT_AUTH_ISSUER, min_length=1,
                             validation_alias="AUTH_ISSUER")
    auth_audience: str = Field(default=DEFAULT_AUTH_AUDIENCE, min_length=1,
                               validation_alias="AUTH_AUDIENCE")


@lru_cache(maxsize=1)
def token_settings() -> TokenSettings:
    return TokenSettings()

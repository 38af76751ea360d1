"""Settings read once per process from the environment."""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from typing import Literal, TypeVar

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"


# The driver every package installs (psycopg2-binary); the module that provides each dialect.
DRIVER = "psycopg2"
_DRIVER_MODULES = {"psycopg2": "psycopg2", "psycopg": "psycopg", "asyncpg": "asyncpg",
                   "pg8000": "pg8000"}
_URL_FORM = "postgresql://user:password@host:5432/database"


def default_database_url(name: str) -> str:
    return f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"


def normalise_database_url(url: str) -> str:
    """The libpq forms hosting providers hand out (`postgresql://`, `postgres://`) mean the
    installed driver; a driver that is not installed, or another database, is a ValueError."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError(f"not a database URL; expected {_URL_FORM}") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend not in ("postgresql", "postgres"):
        raise ValueError(f"{backend!r} is not PostgreSQL; expected {_URL_FORM}")
    driver = driver or DRIVER
    module = _DRIVER_MODULES.get(driver, driver)
    if driver != DRIVER and importlib.util.find_spec(module) is None:
        raise ValueError(f"driver {driver!r} is not installed; write postgresql:// "
                         f"(or postgresql+{DRIVER}://) instead")
    # Only the scheme changes: re-rendering would percent-encode the query (sslrootcert paths).
    return f"postgresql+{driver}:{url.partition(':')[2]}"


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

    @field_validator("database_url", mode="after", check_fields=False)
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalise_database_url(value) if value else value


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


QueueType = Literal["classic", "quorum"]


class BusSettings(BaseSettings):
    """The type of every durable queue the suite declares (docs/adr/0029-quorum-queues.md): one
    value for every process on a vhost, or RabbitMQ refuses the other declarations."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    bus_queue_type: QueueType = Field(default="classic", validation_alias="BUS_QUEUE_TYPE")


def bus_queue_type() -> QueueType:
    # Read on each call (declarations only, at start-up) so one test process can try both.
    return load(BusSettings).bus_queue_type


Loaded = TypeVar("Loaded", bound=BaseSettings)


class ConfigurationError(SystemExit):
    """Bad settings at start: one line naming each variable and what it must be."""


def load(cls: type[Loaded]) -> Loaded:
    """`cls()`, but a bad variable stops the process with one line instead of a traceback."""
    try:
        return cls()
    except ValidationError as exc:
        raise ConfigurationError(f"error: configuration: {describe(exc, cls)}") from None


def describe(exc: ValidationError, cls: type[BaseSettings]) -> str:
    problems = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "?"
        info = cls.model_fields.get(field)
        variable = info.validation_alias if info and isinstance(info.validation_alias, str) \
            else field.upper()
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(f"{variable}: {message}")
    return "; ".join(problems)

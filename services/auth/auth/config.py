"""The auth process's one settings object, read from the environment."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import Field, SecretStr

from shared.settings import ServiceSettings, default_database_url, load

# OWASP Password Storage Cheat Sheet, Argon2id minimum: 19 MiB, 2 iterations, 1 lane.
# The settings below refuse anything weaker (docs/adr/0004-password-hashing-and-tokens.md).
OWASP_MEMORY_KIB = 19 * 1024
OWASP_TIME_COST = 2


def _default_hash_concurrency() -> int:
    # Leave a core for everything else the service (and its host) does during a login storm.
    return max(1, (os.cpu_count() or 2) - 1)


class AuthSettings(ServiceSettings):
    database_url: str = Field(default=default_database_url("auth"),
                              validation_alias="AUTH_DATABASE_URL")
    # JSON list, newest first: [{"kid": "...", "private_key": "<PKCS#8 PEM, Ed25519>"}, ...].
    # The first key signs; the others only verify until the tokens they signed have expired.
    signing_keys: SecretStr | None = Field(default=None, validation_alias="AUTH_SIGNING_KEYS")
    # Refuse to start without AUTH_SIGNING_KEYS (production) instead of generating a dev key.
    require_signing_keys: bool = Field(default=False,
                                       validation_alias="AUTH_REQUIRE_SIGNING_KEYS")
    access_token_ttl: int = Field(default=900, ge=60, le=3600,
                                  validation_alias="AUTH_ACCESS_TOKEN_TTL")
    refresh_token_ttl: int = Field(default=30 * 86400, ge=3600,
                                   validation_alias="AUTH_REFRESH_TOKEN_TTL")
    argon2_memory_kib: int = Field(default=OWASP_MEMORY_KIB, ge=OWASP_MEMORY_KIB,
                                   validation_alias="AUTH_ARGON2_MEMORY_KIB")
    argon2_time_cost: int = Field(default=OWASP_TIME_COST, ge=OWASP_TIME_COST,
                                  validation_alias="AUTH_ARGON2_TIME_COST")
    argon2_parallelism: int = Field(default=1, ge=1, le=8,
                                    validation_alias="AUTH_ARGON2_PARALLELISM")
    # Password hashes computed at once (each holds argon2_memory_kib of RAM and a core).
    hash_concurrency: int = Field(default_factory=_default_hash_concurrency, ge=1, le=64,
                                  validation_alias="AUTH_HASH_CONCURRENCY")
    # Hashes running or waiting for a slot; beyond it new ones are shed with 503, so a login
    # storm never occupies every nameko worker (MAX_WORKERS) and reads keep being served.
    hash_queue_limit: int = Field(default=6, ge=1, validation_alias="AUTH_HASH_QUEUE_LIMIT")
    # Niceness of the hashing threads (Linux, per thread): under CPU contention a sign-in storm
    # yields to request handling; on an idle host it costs nothing. 0 disables.
    hash_niceness: int = Field(default=10, ge=0, le=19, validation_alias="AUTH_HASH_NICENESS")
    admin_email: str | None = Field(default=None, validation_alias="ADMIN_EMAIL")
    admin_password: SecretStr | None = Field(default=None, validation_alias="ADMIN_PASSWORD")


@lru_cache(maxsize=1)
def settings() -> AuthSettings:
    return load(AuthSettings)

"""Auth's nameko DependencyProviders: what the service builds once per container (signing keys,
token minting and checking, password hashing), then the admin bootstrap."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from eventlet import tpool
from eventlet.semaphore import Semaphore
from nameko.extensions import DependencyProvider

from auth import signing_keys as keys
from auth import use_cases
from auth.access_tokens import AccessTokens
from auth.config import AuthSettings, settings
from auth.passwords import Argon2Passwords, HashRunner, HashSlots, with_niceness
from auth.postgres import PostgresStore, dev_signing_keys
from auth.schemas import Registration, parse
from shared.db import UnitOfWorkFactory, make_engine
from shared.settings import token_settings
from shared.tokens import TokenVerifier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Runtime:
    keys: keys.KeyRing
    tokens: AccessTokens
    verifier: TokenVerifier
    passwords: Argon2Passwords
    refresh_ttl: dt.timedelta

    def deps(self, factory: UnitOfWorkFactory) -> use_cases.Deps:
        return use_cases.Deps(store=PostgresStore(factory), passwords=self.passwords,
                              tokens=self.tokens, refresh_ttl=self.refresh_ttl)


class AuthRuntime(DependencyProvider):  # type: ignore[misc]
    """Built in setup() with its own short-lived engine: setup() order is not guaranteed."""

    built: Runtime | None = None

    def setup(self) -> None:
        config = settings()
        factory = UnitOfWorkFactory(make_engine(config.database_url, pool_size=1))
        try:
            self.built = build(config, factory, hash_slots(config))
            bootstrap_admin(config, self.built, factory)
        finally:
            factory.engine.dispose()

    def jwks(self) -> dict[str, Any]:  # what Principal(jwks_from="runtime") reads
        assert self.built is not None, "AuthRuntime used before setup()"
        return self.built.keys.jwks()

    def get_dependency(self, worker_ctx: Any) -> Runtime:
        assert self.built is not None, "AuthRuntime used before setup()"
        return self.built


def hash_slots(config: AuthSettings) -> HashSlots:
    # Argon2 runs in eventlet's OS thread pool (it would block the hub), capped in number,
    # at a lower thread priority than request handling.
    niceness = config.hash_niceness
    return HashSlots(Semaphore(config.hash_concurrency),
                     lambda fn, *args: tpool.execute(with_niceness, niceness, fn, *args),
                     config.hash_queue_limit)


def load_keys(config: AuthSettings, factory: UnitOfWorkFactory) -> keys.KeyRing:
    if config.signing_keys is not None:
        return keys.parse(config.signing_keys.get_secret_value())
    if config.require_signing_keys:
        raise keys.KeyConfigError("AUTH_SIGNING_KEYS is required (AUTH_REQUIRE_SIGNING_KEYS)")
    ring = dev_signing_keys(factory)
    log.warning("AUTH_SIGNING_KEYS is unset: signing access tokens with a generated development "
                "key kept in the auth database; set AUTH_SIGNING_KEYS in production",
                extra={"kid": ring.signing.kid})
    return ring


def build(config: AuthSettings, factory: UnitOfWorkFactory, run: HashRunner) -> Runtime:
    ring = load_keys(config, factory)
    issuer, audience = token_settings().auth_issuer, token_settings().auth_audience
    passwords = Argon2Passwords(config.argon2_memory_kib, config.argon2_time_cost,
                                config.argon2_parallelism, run)
    passwords.dummy_hash()  # now, so the first unknown-email sign-in is not slower than others
    return Runtime(keys=ring,
                   tokens=AccessTokens(ring, issuer, audience, config.access_token_ttl),
                   verifier=TokenVerifier(ring.jwks, issuer, audience),
                   passwords=passwords,
                   refresh_ttl=dt.timedelta(seconds=config.refresh_token_ttl))


def admin_credentials(config: AuthSettings) -> Registration | None:
    """ADMIN_EMAIL and ADMIN_PASSWORD, held to the rules of a sign-up; None when unset."""
    if not config.admin_email or config.admin_password is None:
        return None
    return parse(Registration, email=config.admin_email,
                 password=config.admin_password.get_secret_value())


def bootstrap_admin(config: AuthSettings, runtime: Runtime, factory: UnitOfWorkFactory) -> None:
    admin = admin_credentials(config)
    if admin is not None:
        use_cases.ensure_admin(runtime.deps(factory), admin.email, admin.password)

"""What the auth service builds once per container: signing keys, token minting and checking,
password hashing. Plain code: service.py supplies the hash runner and the database."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from auth import keys
from auth.access import AccessTokens
from auth.admin import ensure_admin
from auth.config import AuthSettings
from auth.passwords import Argon2Passwords, HashRunner
from auth.repository import SqlStore, dev_signing_keys
from auth.use_cases import Deps
from shared.db import UnitOfWorkFactory
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

    def deps(self, factory: UnitOfWorkFactory) -> Deps:
        return Deps(store=SqlStore(factory), passwords=self.passwords, tokens=self.tokens,
                    refresh_ttl=self.refresh_ttl)


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


def bootstrap(config: AuthSettings, runtime: Runtime, factory: UnitOfWorkFactory) -> None:
    if config.admin_email and config.admin_password is not None:
        ensure_admin(runtime.deps(factory), config.admin_email,
                     config.admin_password.get_secret_value())

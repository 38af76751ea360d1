"""Access tokens: the identity they carry, and how every process verifies them locally.

Public API (services and the gateway rely on it): `Identity`, `TokenVerifier`, `JwksSource`,
`ACCESS_TOKEN_TYPE`, `ALGORITHM`. Only the auth service signs; everyone else verifies with the
public keys auth publishes (its JWKS), so no process needs an RPC per request.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shared.errors import ServiceUnavailable, SuiteError, Unauthorized
from shared.settings import token_settings

log = logging.getLogger(__name__)

ACCESS_TOKEN_TYPE = "at+jwt"  # RFC 9068: an access token can't pass for an ID token
ALGORITHM = "EdDSA"  # pinned: the token's own `alg` header never chooses the algorithm
REQUIRED_CLAIMS = ("iss", "aud", "sub", "exp", "iat", "jti", "roles")
MAX_TOKEN_CHARS = 4096
_MAX_KID_CHARS = 128
_MAX_ROLES = 16

JwksSource = Callable[[], Mapping[str, Any]]


@dataclass(frozen=True)
class Identity:
    """Who a verified access token speaks for."""

    user_id: str
    roles: tuple[str, ...]
    # When auth issued the token (ms; `iat_ms`, else `iat`): revocations compare with it.
    issued_ms: int = field(default=0, compare=False)

    def has_role(self, role: str) -> bool:
        return role in self.roles


def _invalid(detail: str = "The access token is invalid.") -> Unauthorized:
    return Unauthorized(detail)


def public_keys(jwks: Mapping[str, Any]) -> dict[str, Ed25519PublicKey]:
    """kid -> key for every Ed25519 signing key in a JWKS; anything else is skipped."""
    keys: dict[str, Ed25519PublicKey] = {}
    listed = jwks.get("keys") if isinstance(jwks, Mapping) else None
    for jwk in listed if isinstance(listed, list) else ():
        if not isinstance(jwk, Mapping):
            continue
        kid, x = jwk.get("kid"), jwk.get("x")
        if (jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not isinstance(kid, str)
                or not isinstance(x, str) or jwk.get("alg", ALGORITHM) != ALGORITHM
                or jwk.get("use", "sig") != "sig"):
            continue
        try:
            keys[kid] = Ed25519PublicKey.from_public_bytes(jwt.utils.base64url_decode(x))
        except ValueError:
            log.warning("skipping a malformed key in the JWKS")
    return keys


class TokenVerifier:
    """Verifies access tokens against a JWKS that is fetched lazily and cached.

    The JWKS is fetched again when a token names an unknown `kid` (a key was rotated in) or the
    cache is older than `max_age` (a key was withdrawn), but at most once per `refresh_interval`
    seconds, so tokens with made-up kids can't turn into a flood of fetches. `jwks_source` may be
    None for async callers, which fetch themselves when `refresh_due(token)` and call `load()`.
    """

    def __init__(self, jwks_source: JwksSource | None, issuer: str | None = None,
                 audience: str | None = None, *, refresh_interval: float = 5.0,
                 max_age: float = 300.0, leeway: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._source = jwks_source
        self.issuer = issuer or token_settings().auth_issuer
        self.audience = audience or token_settings().auth_audience
        self._refresh_interval = refresh_interval
        self._max_age = max_age
        self._leeway = leeway
        self._clock = clock
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._loaded_at: float | None = None
        self._next_refresh = float("-inf")
        self._lock = threading.Lock()
        self._fetching = threading.Lock()  # held while a fetch is in flight

    @property
    def has_keys(self) -> bool:
        return bool(self._keys)

    def verify(self, token: str) -> Identity:
        return self.verify_expiring(token)[0]

    def verify_expiring(self, token: str) -> tuple[Identity, int]:
        """The identity and the token's `exp` (epoch seconds), for callers that cache it."""
        kid = self._kid(token)
        if self._source is not None and (kid not in self._keys or self._stale()):
            # One caller fetches; the others wait for its answer instead of failing meanwhile.
            with self._fetching:
                if self.refresh_due(token):
                    self._refresh(self._source)
        key = self._keys.get(kid)
        if key is None:
            if not self._keys:
                raise ServiceUnavailable("The token signing keys are unavailable.")
            raise _invalid()
        try:
            claims = jwt.decode(
                token, key, algorithms=[ALGORITHM], audience=self.audience, issuer=self.issuer,
                leeway=self._leeway,
                options={"require": list(REQUIRED_CLAIMS), "strict_aud": True})
        except jwt.ExpiredSignatureError:
            raise _invalid("The access token has expired.") from None
        except jwt.PyJWTError:
            raise _invalid() from None
        return _identity(claims), int(claims["exp"])  # an int: _identity checked

    def refresh_due(self, token: str) -> bool:
        """True when `token`'s kid is unknown (or the keys are stale) and a fetch is allowed now;
        the caller must then fetch and `load()` (or `load_failed()`). Raises Unauthorized for a
        token that is not even well formed."""
        kid = self._kid(token)
        now = self._clock()
        with self._lock:
            if (kid in self._keys and not self._stale()) or now < self._next_refresh:
                return False
            self._next_refresh = now + self._refresh_interval
            return True

    def _stale(self) -> bool:
        return self._loaded_at is None or self._clock() - self._loaded_at >= self._max_age

    def load(self, jwks: Mapping[str, Any]) -> None:
        keys = public_keys(jwks)
        if not keys:
            # An empty or unusable answer never replaces keys that work.
            log.warning("the JWKS has no usable Ed25519 key; keeping the keys we had")
            self.load_failed()
            return
        dropped = sorted(set(self._keys) - set(keys))
        if dropped:
            # Never silent: a withdrawn key is a rotation step or an incident (ADR 0014).
            log.warning("the JWKS from auth no longer holds key(s) %s; tokens signed with "
                        "them are refused from now on", ", ".join(dropped))
        with self._lock:
            self._keys, self._loaded_at = keys, self._clock()

    def load_failed(self) -> None:
        # Retry a failed fetch sooner than a successful one, but still not in a hot loop.
        with self._lock:
            self._next_refresh = min(self._next_refresh, self._clock() + 1.0)

    def _refresh(self, source: JwksSource) -> None:
        try:
            jwks = source()
        except Exception as exc:
            self.load_failed()
            log.warning("fetching the JWKS failed: %s", type(exc).__name__)
            if not self._keys:
                if isinstance(exc, SuiteError) and exc.status >= 500:
                    raise
                raise ServiceUnavailable("The token signing keys are unavailable.") from None
            return
        self.load(jwks)

    @staticmethod
    def _kid(token: str) -> str:
        """The header's kid, checked for shape only: it is untrusted until the signature is."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            raise _invalid()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _invalid() from None
        kid, typ = header.get("kid"), header.get("typ")
        if header.get("alg") != ALGORITHM or not isinstance(typ, str) \
                or typ.lower() not in (ACCESS_TOKEN_TYPE, f"application/{ACCESS_TOKEN_TYPE}") \
                or not isinstance(kid, str) or not 0 < len(kid) <= _MAX_KID_CHARS \
                or "crit" in header:
            raise _invalid()
        return kid


def _identity(claims: Mapping[str, Any]) -> Identity:
    sub, roles, jti = claims.get("sub"), claims.get("roles"), claims.get("jti")
    for name in ("exp", "iat"):
        if type(claims.get(name)) is not int:
            raise _invalid()
    if not isinstance(sub, str) or not _is_uuid(sub) or not isinstance(jti, str) or not jti:
        raise _invalid()
    if not isinstance(roles, list) or len(roles) > _MAX_ROLES \
            or not all(isinstance(role, str) and 0 < len(role) <= 64 for role in roles):
        raise _invalid()
    issued_ms = claims.get("iat_ms")
    if type(issued_ms) is not int:
        issued_ms = int(claims["iat"]) * 1000
    return Identity(user_id=sub, roles=tuple(roles), issued_ms=issued_ms)


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False

"""shared.token_cache.VerifiedTokens: a verified token is reused briefly, never past its
expiry; a token that fails is never remembered."""

from __future__ import annotations

from typing import Any

import pytest

from shared.errors import Unauthorized
from shared.token_cache import VerifiedTokens
from shared.tokens import Identity

ALICE = Identity("7d3f1c9e-1111-4a2b-9c3d-000000000001", ("customer",))


class FakeVerifier:
    def __init__(self, exp: int = 1_000) -> None:
        self.calls = 0
        self.exp = exp
        self.valid = {"good"}

    def verify_expiring(self, token: str) -> tuple[Identity, int]:
        self.calls += 1
        if token not in self.valid:
            raise Unauthorized("The access token is invalid.")
        return ALICE, self.exp


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def _cache(verifier: FakeVerifier, clock: Clock, **kwargs: Any) -> VerifiedTokens:
    return VerifiedTokens(verifier, clock=clock, **kwargs)  # type: ignore[arg-type]


def test_a_verified_token_is_checked_once_within_the_ttl():
    verifier, clock = FakeVerifier(), Clock()
    tokens = _cache(verifier, clock, ttl=30.0)
    assert tokens.verify("good") == ALICE
    clock.now += 29
    assert tokens.verify("good") == ALICE
    assert verifier.calls == 1
    clock.now += 2  # past the ttl: verified again
    assert tokens.verify("good") == ALICE
    assert verifier.calls == 2


def test_never_past_the_tokens_own_expiry():
    verifier, clock = FakeVerifier(exp=110), Clock()
    tokens = _cache(verifier, clock, ttl=30.0)
    tokens.verify("good")
    verifier.valid.clear()  # what the full check says once the token has expired
    clock.now = 110.0
    with pytest.raises(Unauthorized):
        tokens.verify("good")


def test_failures_are_not_remembered():
    verifier, clock = FakeVerifier(), Clock()
    tokens = _cache(verifier, clock)
    for _ in range(2):
        with pytest.raises(Unauthorized):
            tokens.verify("forged")
    assert verifier.calls == 2


def test_the_cache_is_bounded():
    verifier, clock = FakeVerifier(), Clock()
    verifier.valid |= {f"t{i}" for i in range(10)}
    tokens = _cache(verifier, clock, size=4)
    for i in range(10):
        tokens.verify(f"t{i}")
    assert len(tokens._entries) <= 4

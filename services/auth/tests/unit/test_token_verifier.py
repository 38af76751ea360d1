"""shared.tokens.TokenVerifier: what passes (exactly what auth mints), key rotation, refresh."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auth import signing_keys as keys
from auth.access_tokens import AccessTokens
from shared.errors import ServiceUnavailable, Unauthorized
from shared.tokens import Identity, TokenVerifier

ISS, AUD = "https://issuer.test", "suite-test"
MISSING = object()
RING = keys.KeyRing([keys.generate(), keys.generate()])
SIGNER = RING.signing
STRANGER = Ed25519PrivateKey.generate()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _verifier(source=RING.jwks, **kwargs) -> TokenVerifier:
    return TokenVerifier(source, ISS, AUD, **kwargs)


def _now() -> int:
    return int(time.time())


# Each claim/header: (is it valid?, value factory). Exactly the all-valid combinations pass.
CLAIMS = {
    "iss": [(True, lambda: ISS), (False, lambda: MISSING), (False, lambda: "https://evil"),
            (False, lambda: 7), (False, lambda: [ISS])],
    "aud": [(True, lambda: AUD), (False, lambda: MISSING), (False, lambda: "other"),
            (False, lambda: [AUD]), (False, lambda: [AUD, "other"]), (False, lambda: None)],
    "sub": [(True, lambda: str(uuid.uuid4())), (False, lambda: MISSING),
            (False, lambda: "admin"), (False, lambda: str(uuid.uuid4()).upper()),
            (False, lambda: 12), (False, lambda: "")],
    "exp": [(True, lambda: _now() + 300), (False, lambda: MISSING),
            (False, lambda: _now() - 120), (False, lambda: str(_now() + 300)),
            (False, lambda: _now() + 300.5), (False, lambda: True)],
    "iat": [(True, lambda: _now() - 1), (False, lambda: MISSING),
            (False, lambda: _now() + 3600), (False, lambda: str(_now())),
            (False, lambda: _now() - 0.5)],
    "jti": [(True, lambda: uuid.uuid4().hex), (False, lambda: MISSING), (False, lambda: ""),
            (False, lambda: 5)],
    "roles": [(True, lambda: ["customer"]), (True, lambda: ["customer", "admin"]),
              (True, lambda: []), (False, lambda: MISSING), (False, lambda: "admin"),
              (False, lambda: [1]), (False, lambda: [""]), (False, lambda: ["x"] * 17),
              (False, lambda: {"admin": True})],
    "nbf": [(True, lambda: MISSING), (True, lambda: _now() - 10),
            (False, lambda: _now() + 3600)],
    "extra": [(True, lambda: MISSING), (True, lambda: "tolerated")],
}
HEADERS = {
    "typ": [(True, lambda: "at+jwt"), (True, lambda: "application/at+jwt"),
            (False, lambda: "JWT"), (False, lambda: MISSING), (False, lambda: "id+jwt")],
    "kid": [(True, lambda: SIGNER.kid), (False, lambda: MISSING), (False, lambda: "unknown"),
            (False, lambda: 3), (False, lambda: RING.keys[1].kid)],  # right kid, other key
}
SIGNATURES = ["eddsa", "eddsa-stranger", "none", "hs256-public-key", "truncated"]


def _materialise(choice: dict[str, tuple[bool, object]]) -> tuple[bool, dict]:
    valid, out = True, {}
    for name, (ok, make) in choice.items():
        valid = valid and ok
        value = make()
        if value is not MISSING:
            out[name] = value
    return valid, out


@st.composite
def _token_parts(draw):
    """Mostly one to three things wrong, often nothing wrong: so both outcomes are explored."""
    fields = [*CLAIMS, *HEADERS, "signature"]
    broken = draw(st.one_of(st.just(frozenset()),
                            st.sets(st.sampled_from(fields), min_size=1, max_size=3)))

    def pick(table, name):
        options = [o for o in table[name] if o[0] != (name in broken)] or table[name]
        return draw(st.sampled_from(options))

    claims = {name: pick(CLAIMS, name) for name in CLAIMS}
    header = {name: pick(HEADERS, name) for name in HEADERS}
    signature = draw(st.sampled_from(SIGNATURES[1:] if "signature" in broken else ["eddsa"]))
    return claims, header, signature


def _token(claims: dict, header: dict, signature: str) -> str:
    if signature in ("eddsa", "eddsa-stranger", "truncated"):
        key = SIGNER.private_key if signature != "eddsa-stranger" else STRANGER
        head = {"alg": "EdDSA", **header}
        signing_input = f"{_b64(json.dumps(head).encode())}.{_b64(json.dumps(claims).encode())}"
        sig = key.sign(signing_input.encode())
        return f"{signing_input}.{_b64(sig[:-1] if signature == 'truncated' else sig)}"
    alg = "none" if signature == "none" else "HS256"
    head = {"alg": alg, **header}
    signing_input = f"{_b64(json.dumps(head).encode())}.{_b64(json.dumps(claims).encode())}"
    if alg == "none":
        return f"{signing_input}."
    public = SIGNER.private_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                          serialization.PublicFormat.Raw)
    mac = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


VERIFIER = _verifier()
OUTCOMES: set[str] = set()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_token_parts())
def test_only_exactly_valid_tokens_pass(parts):
    claims, header, signature = parts
    claims_ok, claim_values = _materialise(claims)
    header_ok, header_values = _materialise(header)
    should_pass = claims_ok and header_ok and signature == "eddsa"
    token = _token(claim_values, header_values, signature)
    if should_pass:
        identity = VERIFIER.verify(token)
        assert identity == Identity(claim_values["sub"], tuple(claim_values["roles"]))
        OUTCOMES.add("pass")
    else:
        with pytest.raises(Unauthorized):
            VERIFIER.verify(token)
        OUTCOMES.add("fail")


def test_the_fuzz_explored_both_outcomes():
    test_only_exactly_valid_tokens_pass()
    assert sorted(OUTCOMES) == ["fail", "pass"]


@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_garbage_is_unauthorized_never_a_crash(garbage):
    with pytest.raises(Unauthorized):
        VERIFIER.verify(garbage)


def test_what_auth_mints_verifies():
    tokens = AccessTokens(RING, ISS, AUD, 900)
    user_id = uuid.uuid4()
    token, expires_in = tokens.issue(user_id, ("customer", "admin"))
    assert expires_in == 900
    identity = _verifier().verify(token)
    assert identity.user_id == str(user_id) and identity.has_role("admin")
    assert not Identity(str(user_id), ("customer",)).has_role("admin")


def test_expired_says_so():
    token, _ = AccessTokens(RING, ISS, AUD, 60, clock=lambda: time.time() - 3600).issue(
        uuid.uuid4(), ("customer",))
    with pytest.raises(Unauthorized, match="expired"):
        _verifier().verify(token)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_rotation_new_kid_triggers_one_refresh_and_old_keys_still_verify():
    old, new = keys.generate(), keys.generate()
    published = {"ring": keys.KeyRing([old])}
    fetches = []

    def source():
        fetches.append(1)
        return published["ring"].jwks()

    clock = Clock()
    verifier = _verifier(source, clock=clock, refresh_interval=5)
    old_token, _ = AccessTokens(keys.KeyRing([old]), ISS, AUD, 900).issue(uuid.uuid4(), ())
    verifier.verify(old_token)
    assert len(fetches) == 1
    published["ring"] = keys.KeyRing([new, old])  # rotated: new signs, old still published
    new_token, _ = AccessTokens(published["ring"], ISS, AUD, 900).issue(uuid.uuid4(), ())
    with pytest.raises(Unauthorized):
        verifier.verify(new_token)  # too soon after the last fetch
    clock.now += 5
    verifier.verify(new_token)
    verifier.verify(old_token)
    assert len(fetches) == 2


def test_unknown_kids_cannot_cause_a_fetch_storm():
    fetches = []
    clock = Clock()
    verifier = _verifier(lambda: fetches.append(1) or RING.jwks(), clock=clock,
                         refresh_interval=5)
    forged = [jwt.encode({"sub": "x"}, STRANGER, algorithm="EdDSA",
                         headers={"kid": f"kid-{i}", "typ": "at+jwt"}) for i in range(50)]
    for token in forged:
        with pytest.raises(Unauthorized):
            verifier.verify(token)
    assert len(fetches) == 1
    clock.now += 5.1
    for token in forged:
        with pytest.raises(Unauthorized):
            verifier.verify(token)
    assert len(fetches) == 2


def test_stale_keys_are_refetched_so_withdrawn_keys_stop_verifying():
    old, new = keys.generate(), keys.generate()
    published = {"ring": keys.KeyRing([new, old])}
    clock = Clock()
    verifier = _verifier(lambda: published["ring"].jwks(), clock=clock, max_age=300)
    old_token, _ = AccessTokens(keys.KeyRing([old]), ISS, AUD, 3600).issue(uuid.uuid4(), ())
    verifier.verify(old_token)
    published["ring"] = keys.KeyRing([new])
    clock.now += 301
    with pytest.raises(Unauthorized):
        verifier.verify(old_token)


def test_unreachable_jwks_is_503_without_keys_and_retried_soon():
    calls = []
    clock = Clock()

    def down():
        calls.append(1)
        raise ConnectionError("broker down")

    verifier = _verifier(down, clock=clock, refresh_interval=5)
    token, _ = AccessTokens(RING, ISS, AUD, 900).issue(uuid.uuid4(), ())
    with pytest.raises(ServiceUnavailable):
        verifier.verify(token)
    with pytest.raises(ServiceUnavailable):
        verifier.verify(token)
    assert len(calls) == 1
    clock.now += 1.0
    with pytest.raises(ServiceUnavailable):
        verifier.verify(token)
    assert len(calls) == 2


def test_malformed_jwks_entries_are_skipped():
    jwks = RING.jwks()
    jwks["keys"].extend([{"kty": "RSA", "kid": "r", "n": "x", "e": "AQAB"},
                         {"kty": "OKP", "crv": "Ed25519", "kid": "bad", "x": "!!"},
                         {"kty": "OKP", "crv": "Ed25519", "kid": "hs", "x": "AA", "alg": "HS256"},
                         "nonsense"])
    verifier = _verifier(lambda: jwks)
    token, _ = AccessTokens(RING, ISS, AUD, 900).issue(uuid.uuid4(), ())
    verifier.verify(token)


def test_an_empty_or_garbage_jwks_never_replaces_working_keys():
    answers = [RING.jwks(), {"keys": []}, "garbage", {"keys": "x"}]
    clock = Clock()
    verifier = _verifier(lambda: answers.pop(0), clock=clock, max_age=10)
    token, _ = AccessTokens(RING, ISS, AUD, 900).issue(uuid.uuid4(), ())
    for _ in range(4):
        verifier.verify(token)
        clock.now += 11


def test_concurrent_first_verifications_wait_for_the_one_fetch():
    import threading

    fetches = []

    def slow_source():
        fetches.append(1)
        time.sleep(0.2)
        return RING.jwks()

    verifier = _verifier(slow_source)
    token, _ = AccessTokens(RING, ISS, AUD, 900).issue(uuid.uuid4(), ())
    results = []

    def verify():
        try:
            results.append(verifier.verify(token).user_id)
        except Exception as exc:  # collected, asserted below
            results.append(exc)

    threads = [threading.Thread(target=verify) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(fetches) == 1
    assert all(isinstance(r, str) for r in results), results

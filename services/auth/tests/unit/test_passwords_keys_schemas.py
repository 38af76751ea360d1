"""Argon2id hashing and its runner, signing-key configuration, input validation."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
from argon2 import PasswordHasher

from auth import signing_keys as keys
from auth.config import OWASP_MEMORY_KIB, AuthSettings
from auth.domain import canonical_roles, email_key
from auth.passwords import Argon2Passwords, HashSlots
from auth.schemas import Registration, RoleChange, parse
from shared.errors import ServiceUnavailable, ValidationFailed

# The production floor (19 MiB, t=2): the tests hash for real, just not many times.
PASSWORDS = Argon2Passwords(OWASP_MEMORY_KIB, 2, 1)


def test_hash_is_argon2id_with_at_least_the_owasp_parameters():
    digest = PASSWORDS.hash("correct horse battery")
    assert digest.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORDS.verify(digest, "correct horse battery")
    assert not PASSWORDS.verify(digest, "correct horse batterz")
    assert not PASSWORDS.verify("not a hash", "whatever")


def test_weaker_or_different_parameters_need_a_rehash():
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("pw")
    assert PASSWORDS.needs_rehash(weak)
    assert not PASSWORDS.needs_rehash(PASSWORDS.hash("pw"))
    assert Argon2Passwords(OWASP_MEMORY_KIB * 2, 2, 1).needs_rehash(PASSWORDS.hash("pw"))
    assert PASSWORDS.needs_rehash("garbage")


def test_settings_refuse_parameters_below_the_owasp_floor():
    with pytest.raises(ValueError):
        AuthSettings(AUTH_ARGON2_MEMORY_KIB=8192)
    with pytest.raises(ValueError):
        AuthSettings(AUTH_ARGON2_TIME_COST=1)


def test_dummy_verify_costs_a_hash_and_never_succeeds():
    passwords = Argon2Passwords(OWASP_MEMORY_KIB, 2, 1)
    passwords.dummy_hash()
    started = time.perf_counter()
    passwords.verify_dummy("anything at all")
    assert time.perf_counter() - started > 0.001


def test_every_hash_goes_through_the_runner():
    seen = []

    def runner(fn, *args):
        seen.append(fn.__name__)
        return fn(*args)

    passwords = Argon2Passwords(OWASP_MEMORY_KIB, 2, 1, run=runner)
    digest = passwords.hash("pw")
    passwords.verify(digest, "pw")
    passwords.verify_dummy("pw")
    assert seen == ["hash", "_verify", "hash", "_verify"]  # the dummy is made once, lazily


def test_hash_slots_cap_concurrency_and_shed_past_the_queue_limit():
    slots = HashSlots(threading.Semaphore(2), lambda fn, *a: fn(*a), queue_limit=3)
    running, peak, gate = [0], [0], threading.Event()
    lock = threading.Lock()

    def work():
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        gate.wait(5)
        with lock:
            running[0] -= 1
        return "done"

    results = []
    threads = [threading.Thread(target=lambda: results.append(slots(work))) for _ in range(3)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while slots.in_flight < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(ServiceUnavailable):
        slots(work)  # a fourth: shed, not queued
    gate.set()
    for thread in threads:
        thread.join()
    assert results == ["done"] * 3 and peak[0] == 2 and slots.in_flight == 0


def _pem(key: keys.SigningKey) -> str:
    return key.private_pem()


def test_signing_keys_from_the_environment_newest_first():
    new, old = keys.generate(), keys.generate()
    ring = keys.parse(json.dumps([{"kid": "2026-11", "private_key": _pem(new)},
                                  {"private_key": _pem(old)}]))
    assert ring.signing.kid == "2026-11"
    assert [k["kid"] for k in ring.jwks()["keys"]] == ["2026-11", keys.thumbprint(old.private_key)]
    assert all(set(k) == {"kty", "crv", "x", "kid", "alg", "use"} for k in ring.jwks()["keys"])


@pytest.mark.parametrize("raw", ["", "{}", "[]", "[1]", '[{"kid": "a"}]',
                                 '[{"private_key": "not a pem"}]'])
def test_malformed_signing_keys_are_refused_without_echoing_them(raw):
    with pytest.raises(keys.KeyConfigError) as error:
        keys.parse(raw)
    assert "not a pem" not in str(error.value)


def test_duplicate_kids_and_non_ed25519_keys_are_refused():
    key = keys.generate()
    with pytest.raises(keys.KeyConfigError):
        keys.parse(json.dumps([{"kid": "a", "private_key": _pem(key)}] * 2))
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    with pytest.raises(keys.KeyConfigError):
        keys.parse(json.dumps([{"private_key": ec_pem}]))


def test_signing_key_repr_hides_the_key():
    key = keys.generate()
    assert "PRIVATE" not in repr(key) and repr(key) == f"SigningKey(kid={key.kid!r})"


def test_signing_keys_setting_is_a_secret():
    key = keys.generate()
    config = AuthSettings(AUTH_SIGNING_KEYS=json.dumps([{"private_key": _pem(key)}]))
    assert "PRIVATE" not in repr(config) and "PRIVATE" not in str(config.model_dump())


@pytest.mark.parametrize("email", ["ada@example.com", "a.b+tag@sub.example.co", "A@B.IO",
                                   "o'neil@example.org"])
def test_valid_emails(email):
    parse(Registration, email=email, password="x" * 10)


@pytest.mark.parametrize("email", ["", "ada", "ada@", "@example.com", "ada@example",
                                   "ada@@example.com", "a da@example.com", "ada@exa mple.com",
                                   ".ada@example.com", "ada.@example.com", "a..b@example.com",
                                   "ada@-example.com", "ada@example.c", "x" * 65 + "@a.io",
                                   "ada@exa\nmple.com", "ada@example.com\nx", "ädä@example.com"])
def test_invalid_emails(email):
    with pytest.raises(ValidationFailed) as error:
        parse(Registration, email=email, password="x" * 10)
    assert [e["field"] for e in error.value.errors] == ["email"]


def test_password_length_boundaries_and_field_errors():
    parse(Registration, email="a@b.io", password="x" * 10)
    parse(Registration, email="a@b.io", password="x" * 128)
    for password in ("x" * 9, "x" * 129, 12345678901, None):
        with pytest.raises(ValidationFailed) as error:
            parse(Registration, email="a@b.io", password=password)
        assert [e["field"] for e in error.value.errors] == ["password"]
        assert "xxxxxxxxx" not in str(error.value.errors)


def test_roles_are_checked_and_canonical():
    assert canonical_roles(["admin", "customer", "admin"]) == ("customer", "admin")
    parse(RoleChange, user_id=str(uuid.uuid4()), roles=["admin"])
    with pytest.raises(ValidationFailed) as error:
        parse(RoleChange, user_id=str(uuid.uuid4()), roles=["root"])
    assert error.value.errors[0]["field"] == "roles"
    with pytest.raises(ValidationFailed):
        parse(RoleChange, user_id="nope", roles=[])


def test_email_key_normalises_case_and_space():
    assert email_key("  Ada@Example.COM ") == "ada@example.com"


def test_hashing_threads_run_at_lower_priority_and_only_they_do():
    import os

    from auth.passwords import with_niceness

    main_before = os.getpriority(os.PRIO_PROCESS, 0)
    seen = {}
    thread = threading.Thread(target=lambda: seen.update(
        nice=with_niceness(10, lambda: os.getpriority(os.PRIO_PROCESS, 0))))
    thread.start()
    thread.join()
    assert seen["nice"] == max(main_before, 10)
    assert os.getpriority(os.PRIO_PROCESS, 0) == main_before

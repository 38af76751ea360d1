"""Use cases and sign-in sessions over in-memory fakes of the ports (fakes.py)."""

from __future__ import annotations

import uuid

import pytest

from auth import sessions, use_cases
from auth.config import AuthSettings
from auth.dependencies import admin_credentials
from auth.domain import hash_refresh_token
from auth.schemas import Credentials, Registration
from shared.errors import (
    BadCredentials,
    EmailTaken,
    LoginThrottled,
    ServiceUnavailable,
    TokenRejected,
    UserNotFound,
    ValidationFailed,
)

PASSWORD = "correct horse battery"


def _register(deps, email="Ada@Example.com", password=PASSWORD):
    data = Registration(email=email, password=password)
    return use_cases.register(deps, data.email, data.password, data.display_name)


def _login(deps, email="ada@example.com", password=PASSWORD):
    data = Credentials(email=email, password=password)
    return sessions.login(deps, data.email, data.password)


def test_register_stores_a_hash_and_records_one_event(deps, store):
    user = _register(deps)
    assert user.roles == ("customer",) and user.email == "Ada@Example.com"
    stored = store.state.users[user.id]
    assert stored.password_hash != PASSWORD and stored.email_key == "ada@example.com"
    assert store.state.events == [("user_registered", {"user_id": str(user.id),
                                                       "email": "Ada@Example.com"})]


def test_register_refuses_the_same_email_in_any_case_and_records_nothing(deps, store):
    _register(deps)
    with pytest.raises(EmailTaken):
        _register(deps, email="ADA@example.COM")
    assert len(store.state.users) == 1 and len(store.state.events) == 1


def test_login_returns_a_pair_for_the_right_password(deps):
    user = _register(deps)
    pair = _login(deps, email="ADA@EXAMPLE.COM")
    assert pair.token_type == "Bearer" and pair.expires_in == 900
    assert deps.tokens.issued == [(user.id, ("customer",))]
    assert len(pair.refresh_token) >= 40


def test_wrong_password_and_unknown_email_cost_the_same_and_say_the_same(deps, passwords):
    _register(deps)
    passwords.calls.clear()
    with pytest.raises(BadCredentials) as wrong:
        _login(deps, password="not the password")
    with pytest.raises(BadCredentials) as unknown:
        _login(deps, email="nobody@example.com")
    assert wrong.value.detail == unknown.value.detail
    assert passwords.calls == ["verify", "verify"]  # the unknown email hashed a dummy too


def test_lockout_after_five_failures_within_the_window(deps, clock):
    _register(deps)
    for _ in range(5):
        with pytest.raises(BadCredentials):
            _login(deps, password="wrong password")
        clock.advance(60)
    with pytest.raises(LoginThrottled) as locked:
        _login(deps)  # even the right password
    # The first failure was 5 minutes ago: it leaves the 15-minute window in 10 minutes.
    assert 590 <= locked.value.extra["retry_after"] <= 601
    clock.advance(601)
    _login(deps)


def test_lockout_is_per_normalised_email_and_covers_unknown_accounts(deps):
    for variant in ("Ghost@x.io", "ghost@x.io ", "GHOST@X.IO", "ghost@x.io", " ghost@X.io"):
        with pytest.raises(BadCredentials):
            _login(deps, email=variant)
    with pytest.raises(LoginThrottled):
        _login(deps, email="ghost@x.io")
    with pytest.raises(BadCredentials):
        _login(deps, email="other@x.io")


def test_success_resets_the_count(deps):
    _register(deps)
    for _ in range(2):
        for _ in range(4):
            with pytest.raises(BadCredentials):
                _login(deps, password="wrong password")
        _login(deps)


def test_an_attempt_shed_for_load_does_not_count(deps, passwords, store):
    _register(deps)
    passwords.busy = True
    for _ in range(6):
        with pytest.raises(ServiceUnavailable):
            _login(deps)
    assert store.state.attempts == {}
    passwords.busy = False
    _login(deps)


def test_login_rehashes_when_the_parameters_changed(deps, store, passwords):
    user = _register(deps)
    passwords.version = 3
    _login(deps)
    assert store.state.users[user.id].password_hash.startswith("v3$")


def test_rehash_is_skipped_when_busy_and_login_still_succeeds(deps, store, passwords):
    user = _register(deps)
    passwords.version = 3
    original = passwords.hash

    def busy_hash(password):
        raise ServiceUnavailable("busy")

    passwords.hash = busy_hash
    _login(deps)
    passwords.hash = original
    assert store.state.users[user.id].password_hash.startswith("v2$")


def test_refresh_rotates_and_the_old_token_is_spent(deps):
    _register(deps)
    first = _login(deps)
    second = sessions.refresh(deps, first.refresh_token)
    assert second.refresh_token != first.refresh_token
    third = sessions.refresh(deps, second.refresh_token)
    assert third.access_token


def test_reuse_of_a_spent_token_revokes_the_family_and_commits_that(deps, store):
    _register(deps)
    first = _login(deps)
    second = sessions.refresh(deps, first.refresh_token)
    with pytest.raises(TokenRejected):
        sessions.refresh(deps, first.refresh_token)
    assert all(f["revoked"] for f in store.state.families.values())
    with pytest.raises(TokenRejected):
        sessions.refresh(deps, second.refresh_token)


def test_families_are_independent(deps):
    _register(deps)
    a, b = _login(deps), _login(deps)
    sessions.logout(deps, a.refresh_token)
    with pytest.raises(TokenRejected):
        sessions.refresh(deps, a.refresh_token)
    sessions.refresh(deps, b.refresh_token)


def test_expired_or_unknown_refresh_token_is_refused(deps, clock):
    _register(deps)
    pair = _login(deps)
    with pytest.raises(TokenRejected):
        sessions.refresh(deps, "unknown")
    clock.advance(31 * 86400)
    with pytest.raises(TokenRejected):
        sessions.refresh(deps, pair.refresh_token)


def test_refresh_tokens_are_stored_hashed(deps, store):
    _register(deps)
    pair = _login(deps)
    assert pair.refresh_token.encode() not in store.state.tokens
    assert hash_refresh_token(pair.refresh_token) in store.state.tokens


def test_logout_of_an_unknown_token_is_a_no_op(deps):
    sessions.logout(deps, "whatever")


def test_refresh_carries_the_current_roles(deps):
    user = _register(deps)
    pair = _login(deps)
    use_cases.set_roles(deps, user.id, ["admin", "customer"])
    sessions.refresh(deps, pair.refresh_token)
    assert deps.tokens.issued[-1] == (user.id, ("customer", "admin"))


def test_set_roles_records_an_event_only_on_change(deps, store):
    user = _register(deps)
    use_cases.set_roles(deps, user.id, ["admin", "customer", "admin"])
    use_cases.set_roles(deps, user.id, ["customer", "admin"])
    changes = [e for e in store.state.events if e[0] == "user_roles_changed"]
    assert changes == [("user_roles_changed", {"user_id": str(user.id),
                                               "roles": ["customer", "admin"]})]
    with pytest.raises(UserNotFound):
        use_cases.set_roles(deps, uuid.uuid4(), ["customer"])


def test_get_user(deps):
    user = _register(deps)
    assert use_cases.get_user(deps, user.id) == user
    with pytest.raises(UserNotFound):
        use_cases.get_user(deps, uuid.uuid4())


def test_ensure_admin_creates_then_is_idempotent(deps, store):
    use_cases.ensure_admin(deps, "Root@Example.com", PASSWORD)
    (admin,) = store.state.users.values()
    assert admin.roles == ("customer", "admin")
    assert [e[0] for e in store.state.events] == ["user_registered", "user_roles_changed"]
    use_cases.ensure_admin(deps, "root@example.com", PASSWORD)
    assert len(store.state.events) == 2 and len(store.state.users) == 1
    _login(deps, email="root@example.com")


def test_ensure_admin_promotes_an_existing_user_and_resets_the_password(deps, store):
    user = _register(deps)
    use_cases.ensure_admin(deps, "ada@example.com", "a new admin password")
    stored = store.state.users[user.id]
    assert stored.roles == ("customer", "admin")
    assert [e[0] for e in store.state.events] == ["user_registered", "user_roles_changed"]
    _login(deps, password="a new admin password")


def test_the_admin_bootstrap_refuses_a_weak_password(deps, store):
    config = AuthSettings(ADMIN_EMAIL="root@example.com", ADMIN_PASSWORD="short")
    with pytest.raises(ValidationFailed):
        admin_credentials(config)
    assert admin_credentials(AuthSettings(ADMIN_EMAIL="")) is None

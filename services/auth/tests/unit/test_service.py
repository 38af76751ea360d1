"""auth.service in-process (nameko's worker_factory): each entrypoint parses, calls the use case
over the fakes and renders the contract's JSON; no broker, no database."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from nameko.testing.services import worker_factory

from auth import signing_keys
from auth.service import AuthService
from shared.errors import (
    BadCredentials,
    EmailTaken,
    Forbidden,
    TokenRejected,
    Unauthorized,
    UserNotFound,
    ValidationFailed,
)
from shared.tokens import Identity

PASSWORD = "correct horse battery"


class FakeRuntime:
    """What AuthRuntime gives a worker, with the use cases' dependencies on the fakes."""

    def __init__(self, deps):
        self._deps = deps
        self.keys = signing_keys.KeyRing([signing_keys.generate()])

    def deps(self, factory):
        return self._deps


@pytest.fixture
def service(deps):
    return worker_factory(AuthService, runtime=FakeRuntime(deps))


def _as(service, user, roles=("customer",)):
    service.principal.identity.return_value = Identity(user["id"], tuple(roles))


def test_register_then_get_user_render_the_user_document(service, store):
    user = service.register("Ada@Example.com", PASSWORD, display_name=" Ada ")
    assert set(user) == {"id", "email", "display_name", "roles", "created_at"}
    assert user["email"] == "Ada@Example.com" and user["display_name"] == "Ada"
    assert service.get_user(user["id"]) == user
    assert [event for event, _ in store.state.events] == ["user_registered"]
    with pytest.raises(EmailTaken):
        service.register("ada@example.com", PASSWORD)


def test_arguments_are_validated_before_any_use_case(service, store, passwords):
    with pytest.raises(ValidationFailed) as error:
        service.register("not-an-email", "short")
    assert {e["field"] for e in error.value.errors} == {"email", "password"}
    with pytest.raises(ValidationFailed):
        service.get_user("nope")
    assert store.transactions == 0 and passwords.calls == []


def test_login_refresh_logout_render_token_pairs(service):
    service.register("ada@example.com", PASSWORD)
    with pytest.raises(BadCredentials):
        service.login("ada@example.com", "wrong password")
    pair = service.login("ada@example.com", PASSWORD)
    assert set(pair) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert pair["token_type"] == "Bearer"
    rotated = service.refresh(pair["refresh_token"])
    assert rotated["refresh_token"] != pair["refresh_token"]
    assert service.logout(rotated["refresh_token"]) is None
    with pytest.raises(TokenRejected):
        service.refresh(rotated["refresh_token"])


def test_me_answers_for_the_caller_and_rejects_a_deleted_account(service):
    user = service.register("ada@example.com", PASSWORD)
    _as(service, user)
    assert service.me() == user
    service.principal.identity.return_value = Identity(str(uuid.uuid4()), ("customer",))
    with pytest.raises(TokenRejected):
        service.me()


def test_admin_entrypoints_check_the_role_first(service, store):
    user = service.register("ada@example.com", PASSWORD)
    service.principal.require_role.side_effect = Forbidden("admins only")
    with pytest.raises(Forbidden):
        service.set_roles(user["id"], ["customer", "admin"])
    assert store.state.users[uuid.UUID(user["id"])].roles == ("customer",)
    service.principal.require_role.side_effect = None
    assert service.set_roles(user["id"], ["admin", "customer"])["roles"] == ["customer", "admin"]
    service.principal.require_role.assert_called_with("admin")
    with pytest.raises(UserNotFound):
        service.set_roles(str(uuid.uuid4()), ["customer"])


def test_list_users_pages_with_an_opaque_cursor(service, clock):
    for n in range(3):
        service.register(f"user{n}@example.com", PASSWORD)
        clock.advance(1)
    first = service.list_users(limit=2)
    assert [u["email"] for u in first["items"]] == ["user2@example.com", "user1@example.com"]
    rest = service.list_users(limit=2, cursor=first["next_cursor"])
    assert [u["email"] for u in rest["items"]] == ["user0@example.com"]
    assert rest["next_cursor"] is None
    assert [u["email"] for u in service.list_users(q="USER1")["items"]] == ["user1@example.com"]
    with pytest.raises(ValidationFailed):
        service.list_users(cursor="not a cursor")


def test_get_jwks_and_verify_token_use_the_runtime(service):
    assert service.get_jwks() == service.runtime.keys.jwks()
    service.runtime.verifier = SimpleNamespace(verify=lambda token: Identity("u1", ("admin",)))
    assert service.verify_token("a.b.c") == {"user_id": "u1", "roles": ["admin"]}
    with pytest.raises(Unauthorized):
        service.verify_token(42)

"""shared.errors: typed errors survive nameko's serialised form; anything else is a bare 500."""

from __future__ import annotations

import pytest
from nameko.exceptions import serialize

from shared import errors, wire
from shared.errors import NotFound, SuiteError, ValidationFailed, error_for_wire


def over_the_wire(exc: BaseException) -> dict:
    """What a nameko service sends for `exc`, after a trip through JSON."""
    try:
        raise exc
    except BaseException as raised:
        return wire.loads(wire.dumps(serialize(raised)))


@pytest.mark.parametrize("cls", list(errors.WIRE_ERRORS.values()), ids=lambda cls: cls.__name__)
def test_every_typed_error_round_trips(cls: type[SuiteError]):
    rebuilt = error_for_wire(over_the_wire(cls("something specific happened")))

    assert type(rebuilt) is cls
    assert rebuilt.status == cls.status
    assert rebuilt.detail == "something specific happened"


def test_the_serialised_form_is_nameko_s():
    payload = over_the_wire(NotFound("No product 42."))

    assert set(payload) == {"exc_type", "exc_path", "exc_args", "value"}
    assert payload["exc_type"] == "NotFound"
    assert payload["exc_path"] == "shared.errors.NotFound"


def test_field_errors_and_extra_fields_round_trip():
    sent = ValidationFailed("Bad input.", [{"field": "price", "message": "must be positive"}],
                            {"decline_code": "card_declined"})

    rebuilt = error_for_wire(over_the_wire(sent))

    assert isinstance(rebuilt, ValidationFailed)
    assert rebuilt.errors == [{"field": "price", "message": "must be positive"}]
    assert rebuilt.extra == {"decline_code": "card_declined"}
    assert rebuilt.to_problem("req-1") == sent.to_problem("req-1")


def test_a_typed_error_without_detail_uses_its_title():
    assert error_for_wire(over_the_wire(NotFound())).detail == "Not Found"


@pytest.mark.parametrize("exc", [KeyError("users.password_hash"), RuntimeError("db at 10.0.0.5"),
                                 ValueError(), ZeroDivisionError("division by zero")])
def test_an_unknown_error_is_a_bare_500_without_its_text(exc: Exception):
    payload = over_the_wire(exc)

    rebuilt = error_for_wire(payload)

    assert type(rebuilt) is SuiteError
    assert rebuilt.status == 500
    assert rebuilt.errors == [] and rebuilt.extra == {}
    problem = wire.dumps(rebuilt.to_problem("req-1"))
    assert payload["exc_type"] not in problem
    for arg in payload["exc_args"]:
        assert arg not in problem


def test_a_look_alike_from_another_module_is_a_bare_500():
    payload = {"exc_type": "NotFound", "exc_path": "catalog.errors.NotFound",
               "exc_args": ["secret detail"], "value": "secret detail"}

    rebuilt = error_for_wire(payload)

    assert type(rebuilt) is SuiteError
    assert "secret" not in wire.dumps(rebuilt.to_problem())


@pytest.mark.parametrize("payload", [
    {},
    {"exc_type": None, "exc_path": None},
    {"exc_type": "NotFound", "exc_path": "shared.errors.NotFound", "exc_args": None},
    {"exc_type": "NotFound", "exc_path": "shared.errors.NotFound", "exc_args": {"a": 1}},
    {"exc_type": "NotFound", "exc_path": "shared.errors.NotFound", "exc_args": "detail"},
    {"exc_type": "NotFound", "exc_path": "shared.errors.NotFound", "exc_args": [1, "x", 2]},
])
def test_malformed_payloads_never_raise(payload: dict):
    rebuilt = error_for_wire(payload)

    assert isinstance(rebuilt, SuiteError)
    assert rebuilt.errors == [] and rebuilt.extra == {}


def test_problem_document_shape():
    problem = NotFound("No product 42.").to_problem("req-9")

    assert problem == {"type": "https://errors.commerce-suite.dev/not-found", "title": "Not Found",
                       "status": 404, "detail": "No product 42.", "request_id": "req-9"}


def test_a_meaning_travels_under_its_own_name_and_is_caught_by_its_root():
    from shared.errors import Conflict, OutOfStock

    payload = over_the_wire(OutOfStock("Only 2 left.", extra={"product_id": "p1"}))
    rebuilt = error_for_wire(payload)

    assert payload["exc_path"] == "shared.errors.OutOfStock"
    assert type(rebuilt) is OutOfStock and isinstance(rebuilt, Conflict)
    assert rebuilt.to_problem()["code"] == "out_of_stock"
    assert rebuilt.to_problem()["status"] == 409


def test_a_root_sent_with_a_known_code_is_rebuilt_as_that_meaning():
    from shared.errors import Conflict, IdempotencyKeyInUse

    sent = Conflict("Still running.", extra={"code": "idempotency_key_in_use"})

    rebuilt = error_for_wire(over_the_wire(sent))

    assert type(rebuilt) is IdempotencyKeyInUse
    assert rebuilt.to_problem() == sent.to_problem()


def test_a_root_with_an_unknown_code_stays_the_root():
    from shared.errors import Conflict

    rebuilt = error_for_wire(over_the_wire(Conflict("x", extra={"code": "something_new"})))

    assert type(rebuilt) is Conflict and rebuilt.extra == {"code": "something_new"}


def test_every_meaning_has_a_distinct_code_under_its_root():
    meanings = [cls for cls in errors.WIRE_ERRORS.values() if cls.code is not None]

    assert len({cls.code for cls in meanings}) == len(meanings)
    assert all(cls.__module__ == "shared.errors" for cls in errors.WIRE_ERRORS.values())

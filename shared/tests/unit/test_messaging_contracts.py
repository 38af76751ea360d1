"""Event contracts and the consumer's decode/retry/park decisions (no broker needed)."""

from __future__ import annotations

import uuid

import pytest

from shared import wire
from shared.contracts.events import CONTRACTS, InvalidEvent, PaymentSucceeded, validate_event
from shared.messaging import delivery as dl
from shared.messaging import names
from shared.messaging.topology import Subscription

ENVELOPE = {"event_id": str(uuid.uuid4()), "occurred_at": "2026-11-22T10:00:00.123Z",
            "schema_version": 1}
ID = str(uuid.uuid4())
SAMPLES = {
    "user_registered": {"user_id": ID, "email": "a@example.com"},
    "user_roles_changed": {"user_id": ID, "roles": ["customer", "admin"]},
    "user_sessions_revoked": {"user_id": ID, "not_before_ms": 1700000000000, "reason": "logout"},
    "product_created": {"product_id": ID, "sku": "SKU-1", "name": "Mug", "price": 1299,
                        "currency": "EUR"},
    "product_updated": {"product_id": ID, "version": 2, "name": "Big mug"},
    "product_deleted": {"product_id": ID},
    "stock_changed": {"product_id": ID, "available": 0},
    "payment_succeeded": {"payment_id": ID, "user_id": ID, "amount": 2598, "currency": "EUR",
                          "items": [{"product_id": ID, "quantity": 2, "unit_price": 1299}]},
    "payment_failed": {"payment_id": ID, "user_id": ID, "decline_code": "card_declined"},
    "payment_refunded": {"payment_id": ID, "refund_id": ID, "amount": 100, "currency": "EUR",
                         "restock": False},
}


@pytest.mark.parametrize(("exchange", "event_type"), sorted(CONTRACTS))
def test_every_contract_accepts_its_fields_and_tolerates_unknown_ones(exchange, event_type):
    payload = {**ENVELOPE, **SAMPLES[event_type], "added_in_v2": {"anything": True}}
    event = validate_event(exchange, event_type, payload)
    assert str(event.event_id) == ENVELOPE["event_id"]
    assert event.model_extra == {"added_in_v2": {"anything": True}}


@pytest.mark.parametrize(("change", "field"), [
    ({"amount": 25.98}, "amount"),  # money is integer minor units, never a float
    ({"amount": "2598"}, "amount"),
    ({"currency": "eur"}, "currency"),
    ({"occurred_at": "2026-11-22T10:00:00"}, "occurred_at"),  # no offset
    ({"occurred_at": "2026-11-22T10:00:00+02:00"}, "occurred_at"),  # not UTC
    ({"event_id": None}, "event_id"),
    ({"items": [{"product_id": ID, "quantity": 0, "unit_price": 1}]}, "items.0.quantity"),
])
def test_contract_violations_name_the_field(change, field):
    payload = {**ENVELOPE, **SAMPLES["payment_succeeded"], **change}
    with pytest.raises(InvalidEvent, match=field.replace(".", r"\.")):
        validate_event("payments.events", "payment_succeeded", payload)


def test_errors_never_echo_values_and_unknown_events_are_refused():
    payload = {**ENVELOPE, "user_id": "not-a-uuid-secret@example.com", "email": ""}
    with pytest.raises(InvalidEvent) as caught:
        validate_event("auth.events", "user_registered", payload)
    assert "secret@example.com" not in str(caught.value)
    with pytest.raises(InvalidEvent, match="no contract"):
        validate_event("auth.events", "user_deleted", payload)
    with pytest.raises(InvalidEvent, match="not a JSON object"):
        validate_event("auth.events", "user_registered", [payload])


SUB = Subscription("payments", "payment_succeeded", "catalog", "on_payment_succeeded")
GOOD = wire.dumpb({**ENVELOPE, **SAMPLES["payment_succeeded"]})


@pytest.mark.parametrize(("body", "content_type", "reason"), [
    (GOOD, None, "content_type"),
    (GOOD, "text/plain", "content_type"),
    (b"\xff{", "application/json", "not valid JSON"),
    (wire.dumpb({**SAMPLES["payment_succeeded"]}), "application/json", "event_id"),
])
def test_malformed_deliveries_are_recognised(body, content_type, reason):
    with pytest.raises(dl.Malformed, match=reason):
        dl.decode(SUB, dl.Delivery(body, content_type, None))


def test_a_good_delivery_decodes_to_its_typed_event_and_carries_the_context():
    delivery = dl.Delivery(GOOD, "application/json; charset=utf-8", "m-1",
                           {"nameko.request_id": "r-1", "nameko.call_id_stack": ["x"]})
    assert isinstance(dl.decode(SUB, delivery), PaymentSucceeded)
    assert delivery.context == {"request_id": "r-1"}


def test_retries_back_off_exponentially_then_the_copy_is_parked_with_its_story():
    policy = dl.RetryPolicy(max_retries=5, base_delay=1.0, max_delay=10.0)
    assert [policy.delay_ms(n) for n in range(1, 6)] == [1000, 2000, 4000, 8000, 10000]
    first = dl.Delivery(GOOD, "application/json", "m-1", {"nameko.request_id": "r-1"})
    retry = dl.retry_copy(SUB, first, "RuntimeError: no", policy)
    assert (retry.exchange, retry.routing_key, retry.expiration_ms) == (
        names.RETRY_EXCHANGE, SUB.queue, 1000)
    assert retry.body == GOOD and retry.headers[names.PARKED_ATTEMPTS] == 1
    again = dl.Delivery(GOOD, "application/json", "m-1", retry.headers)
    assert dl.retry_copy(SUB, again, "RuntimeError: no", policy).expiration_ms == 2000
    parked = dl.parked_copy(SUB, again, "RuntimeError: no", attempts=6)
    assert (parked.exchange, parked.routing_key, parked.expiration_ms) == (names.DLX, SUB.queue,
                                                                           None)
    assert parked.headers[names.PARKED_ATTEMPTS] == 6
    assert parked.headers["nameko.request_id"] == "r-1"
    # Replaying goes to this handler's queue only, not to every subscriber of the event.
    assert (parked.headers[names.PARKED_EXCHANGE], parked.headers[names.PARKED_ROUTING_KEY]) == (
        "", SUB.queue)


def test_error_summaries_are_short_and_keep_secrets_out():
    exc = RuntimeError("could not connect to amqp://guest:s3cret@broker:5672/\n[SQL: SELECT 1]")
    summary = dl.error_summary(exc)
    assert summary == "RuntimeError: could not connect to amqp://***@broker:5672/"
    assert dl.error_summary(ValueError("x" * 1000)).startswith("ValueError: xxx")
    assert len(dl.error_summary(ValueError("x" * 1000))) < 220
    assert dl.error_summary(KeyError()) == "KeyError"

"""The Idempotency-Key state machine, without a database."""

from __future__ import annotations

import uuid

import pytest

from payments.domain import Decision, KeyRecord, decide, fingerprint


def record(state: str = "in_flight", fp: str = "abc") -> KeyRecord:
    return KeyRecord(user_id=uuid.uuid4(), key="k", kind="checkout", fingerprint=fp,
                     state=state, resource_id=uuid.uuid4(), request={})


@pytest.mark.parametrize(("state", "fp", "expired", "wanted"), [
    ("completed", "abc", False, Decision.REPLAY),
    ("completed", "abc", True, Decision.REPLAY),       # a stored outcome never expires early
    ("completed", "other", False, Decision.MISMATCH),  # different body: 422, even if stored
    ("in_flight", "abc", False, Decision.IN_FLIGHT),
    ("in_flight", "abc", True, Decision.TAKEOVER),     # the first request died or gave up
    ("in_flight", "other", True, Decision.MISMATCH),
])
def test_decide(state, fp, expired, wanted):
    assert decide(record(state, "abc"), fp, expired) is wanted


def test_fingerprint_is_canonical_and_covers_kind_and_body():
    body = {"items": [{"product_id": "p", "quantity": 1}], "payment_method": "tok_visa"}
    reordered = {"payment_method": "tok_visa", "items": [{"quantity": 1, "product_id": "p"}]}
    assert fingerprint("checkout", body) == fingerprint("checkout", reordered)
    assert fingerprint("checkout", body) != fingerprint("refund", body)
    changed = {**body, "payment_method": "tok_chargeDeclined"}
    assert fingerprint("checkout", body) != fingerprint("checkout", changed)
    assert len(fingerprint("checkout", body)) == 64

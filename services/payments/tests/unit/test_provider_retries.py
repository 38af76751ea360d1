"""The retry policy in front of every provider call, with a scripted fake provider."""

from __future__ import annotations

import pytest

from payments.ports import Charge, ProviderRefund
from payments.provider import RetryingProvider, TransientProviderError
from payments.simulator import CardSimulator
from shared.errors import ServiceUnavailable


class ScriptedProvider:
    def __init__(self, failures: int, stored: Charge | None = None) -> None:
        self.failures = failures
        self.stored = stored
        self.calls = 0

    def accepts(self, payment_method: str) -> bool:
        return True

    def charge(self, **kwargs) -> Charge:
        self.calls += 1
        if self.calls <= self.failures:
            raise TransientProviderError("flaky")
        return Charge(id="ch_1", status="succeeded")

    def find_charge(self, idempotency_key: str) -> Charge | None:
        return self.stored

    def refund(self, **kwargs) -> ProviderRefund:
        self.calls += 1
        if self.calls <= self.failures:
            raise TransientProviderError("flaky")
        return ProviderRefund("re_1", kwargs["charge_id"], kwargs["amount"])


ARGS = {"idempotency_key": "k", "amount": 100, "currency": "USD", "payment_method": "tok"}


def test_transient_failures_within_budget_are_retried_with_the_same_key():
    inner = ScriptedProvider(failures=2)
    assert RetryingProvider(inner, attempts=3, wait=0).charge(**ARGS).succeeded
    assert inner.calls == 3


def test_exhausted_retries_become_a_processing_error_decline():
    inner = ScriptedProvider(failures=99)
    charge = RetryingProvider(inner, attempts=3, wait=0).charge(**ARGS)
    assert (charge.status, charge.decline_code, charge.id) == ("declined", "processing_error",
                                                               None)
    assert inner.calls == 3


def test_exhausted_retries_trust_a_charge_the_provider_did_make():
    made = Charge(id="ch_9", status="succeeded")
    inner = ScriptedProvider(failures=99, stored=made)
    assert RetryingProvider(inner, attempts=2, wait=0).charge(**ARGS) == made


def test_refund_that_keeps_failing_is_unavailable_not_a_decline():
    with pytest.raises(ServiceUnavailable):
        RetryingProvider(ScriptedProvider(failures=99), attempts=2, wait=0).refund(
            idempotency_key="r", charge_id="ch_1", amount=5)


@pytest.mark.parametrize(("method", "accepted"), [
    ("tok_visa", True), ("tok_chargeDeclined", True),
    ("tok_chargeDeclinedInsufficientFunds", True), ("tok_processingError", True),
    ("tok_mastercard", False), ("", False), ("4242424242424242", False),
])
def test_simulator_tokens(method, accepted):
    assert CardSimulator(lambda: None).accepts(method) is accepted  # type: ignore[arg-type]


def test_simulator_processing_error_is_transient():
    with pytest.raises(TransientProviderError):
        CardSimulator(lambda: None).charge(**{**ARGS, "payment_method": "tok_processingError"})  # type: ignore[arg-type]

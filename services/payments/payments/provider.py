"""The retry policy every card provider call goes through (ports.CardProvider), and the
provider's failures: transient (retried with the same idempotency key) or outright."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from payments.ports import CardProvider, Charge, ProviderRefund
from shared.errors import ServiceUnavailable

log = logging.getLogger(__name__)

PROCESSING_ERROR = "processing_error"
T = TypeVar("T")


class TransientProviderError(Exception):
    """The provider failed in a way a retry with the same idempotency key may fix."""


class ProviderError(Exception):
    """The provider refused the call outright (a bug on our side: never retried)."""


class RetryingProvider:
    """Retries transient failures a bounded number of times with the same idempotency key.

    A charge that still fails is re-queried (a timed-out call may have gone through) and, if the
    provider holds nothing for the key, becomes a `processing_error` decline.
    """

    def __init__(self, inner: CardProvider, attempts: int = 3, wait: float = 0.05) -> None:
        self.inner = inner
        self.attempts = attempts
        self.wait = wait

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        # The first attempt runs bare: tenacity's machinery costs CPU, and nearly all succeed.
        try:
            return fn(*args, **kwargs)
        except TransientProviderError:
            if self.attempts <= 1:
                raise
        time.sleep(min(self.wait, 1.0))  # what wait_exponential waits after attempt 1
        retrying = Retrying(stop=stop_after_attempt(self.attempts - 1), reraise=True,
                            wait=wait_exponential(multiplier=2 * self.wait, max=1.0),
                            retry=retry_if_exception_type(TransientProviderError))
        return retrying(fn, *args, **kwargs)

    def accepts(self, payment_method: str) -> bool:
        return self.inner.accepts(payment_method)

    def charge(self, *, idempotency_key: str, amount: int, currency: str,
               payment_method: str) -> Charge:
        try:
            return self._call(self.inner.charge, idempotency_key=idempotency_key,
                                    amount=amount, currency=currency,
                                    payment_method=payment_method)
        except TransientProviderError:
            log.warning("provider kept failing; charge given up",
                        extra={"attempts": self.attempts})
        existing = self.find_charge(idempotency_key)
        return existing or Charge(id=None, status="declined", decline_code=PROCESSING_ERROR)

    def find_charge(self, idempotency_key: str) -> Charge | None:
        return self._call(self.inner.find_charge, idempotency_key)

    def refund(self, *, idempotency_key: str, charge_id: str, amount: int) -> ProviderRefund:
        try:
            return self._call(self.inner.refund, idempotency_key=idempotency_key,
                                    charge_id=charge_id, amount=amount)
        except TransientProviderError:
            raise ServiceUnavailable("The payment provider is unavailable; retry with the "
                                     "same Idempotency-Key.") from None

"""The payments process's one settings object, read from the environment."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from shared.settings import ServiceSettings, default_database_url, load


class PaymentsSettings(ServiceSettings):
    database_url: str = Field(default=default_database_url("payments"),
                              validation_alias="PAYMENTS_DATABASE_URL")
    # Each catalog call of a checkout; two of them must fit in the gateway's 5 s budget.
    catalog_timeout: float = Field(default=2.0, gt=0, validation_alias="PAYMENTS_CATALOG_TIMEOUT")
    # How long a request owns its idempotency key before a retry or the sweeper may take over.
    # Far longer than a live checkout can take (catalog timeouts + bounded provider retries).
    lease_seconds: float = Field(default=30.0, gt=0, validation_alias="PAYMENTS_LEASE_SECONDS")
    sweep_interval: float = Field(default=5.0, gt=0, validation_alias="PAYMENTS_SWEEP_INTERVAL")
    # The ledger check for the suite_ledger_mismatches gauge (payments.signals).
    reconcile_seconds: float = Field(default=300.0, ge=10,
                                     validation_alias="PAYMENTS_RECONCILE_SECONDS")
    # The contract promises keys are kept at least 24 h.
    key_retention_hours: float = Field(default=24.0, ge=24.0,
                                       validation_alias="PAYMENTS_KEY_RETENTION_HOURS")
    prune_interval: float = Field(default=3600.0, gt=0, validation_alias="PAYMENTS_PRUNE_INTERVAL")
    provider_attempts: int = Field(default=3, ge=1, le=10,
                                   validation_alias="PAYMENTS_PROVIDER_ATTEMPTS")
    provider_retry_wait: float = Field(default=0.05, ge=0,
                                       validation_alias="PAYMENTS_PROVIDER_RETRY_WAIT")
    # Test hook: SIGKILL this process right after the named saga step (reserve, charge, release).
    test_crash_after: str = Field(default="", validation_alias="PAYMENTS_TEST_CRASH_AFTER")


@lru_cache(maxsize=1)
def settings() -> PaymentsSettings:
    return load(PaymentsSettings)

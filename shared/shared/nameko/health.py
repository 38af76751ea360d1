"""The `ping` RPC every service exposes (/readyz and the benchmarks call it), and
`outbox_lag` for the gateway's admin ops route (a service with an OutboxRelay named `relay`)."""

from __future__ import annotations

from typing import Any

from shared.nameko.rpc import rpc


class HealthMixin:
    name: str

    @rpc  # type: ignore[untyped-decorator]
    def ping(self) -> dict[str, str]:
        return {"service": self.name, "status": "ok"}

    @rpc(callers=("gateway",))  # type: ignore[untyped-decorator]
    def outbox_lag(self) -> dict[str, Any]:
        # Counts only, like /metrics: nothing a caller could learn about users or orders.
        lag = self.relay()  # type: ignore[attr-defined]
        return {"pending": lag.pending, "oldest_age_seconds": round(lag.oldest_age_seconds, 3)}

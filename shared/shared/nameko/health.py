"""The `ping` RPC every service exposes; /readyz and the benchmarks call it."""

from __future__ import annotations

from shared.nameko.rpc import rpc


class HealthMixin:
    name: str

    @rpc  # type: ignore[untyped-decorator]
    def ping(self) -> dict[str, str]:
        return {"service": self.name, "status": "ok"}

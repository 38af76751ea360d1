"""The gateway's own ports: what its parts need from the world, so unit tests can pass fakes."""

from __future__ import annotations

from typing import Any, Protocol


class Rpc(Protocol):
    """nameko RPC over AMQP (gateway.rpc.RpcClient)."""

    @property
    def connected(self) -> bool: ...

    async def call(self, service: str, method: str, *args: Any,
                   context: dict[str, str] | None = None, timeout: float | None = None,
                   **kwargs: Any) -> Any: ...


class Lifecycle(Protocol):
    """A part the lifespan starts and stops (the RPC client, the AMQP subscriptions)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

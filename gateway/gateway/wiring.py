"""Builds the gateway's state (gateway.state.GatewayState) from its settings: every part made in
one place, none of them connected yet (the app's lifespan starts them, in order).

Unit tests pass fakes of the gateway's ports (gateway.ports): `build(settings, rpc=FakeRpc())`.
"""

from __future__ import annotations

from gateway import breaker, ratelimit
from gateway.cache import ReadCache
from gateway.cache_events import CacheInvalidator
from gateway.config import SERVICES, GatewaySettings
from gateway.ports import Lifecycle, Rpc
from gateway.product_reads import ProductReads
from gateway.ratelimit import RateLimiter
from gateway.readiness import services_check
from gateway.revocations import RevocationFeed
from gateway.rpc import RpcClient
from gateway.state import GatewayState
from gateway.upstream import Upstream
from gateway.verifier import EdgeVerifier


def build(config: GatewaySettings, rpc: Rpc | None = None,
          limiter: RateLimiter | None = None) -> GatewayState:
    """The state of a gateway process; `rpc` and `limiter` replace the real ones (tests)."""
    parts: list[Lifecycle] = []
    if rpc is None:
        client = RpcClient(config.amqp_uri, config.rpc_timeout)
        parts.append(client)
        rpc = client
    feed = RevocationFeed(config.amqp_uri)
    parts.append(feed)
    cache = ReadCache(config.cache_ttl) if config.cache_enabled else None
    if cache is not None:
        parts.append(CacheInvalidator(config.amqp_uri, cache))
    breakers = breaker.build(config)
    upstream = Upstream(rpc, breakers)
    return GatewayState(
        settings=config, rpc=rpc, upstream=upstream, breakers=breakers,
        limiter=limiter or ratelimit.build(config),
        verifier=EdgeVerifier(rpc, revocations=feed.revocations), cache=cache,
        reads=ProductReads(upstream, cache, batch=config.batch_reads),
        readiness=services_check(rpc, SERVICES, config.readiness_timeout), parts=parts)

"""Admission, the inner edge in one pure ASGI layer: load shedding, then the per-IP rate limit,
then the route (through gateway.routing.FastLane when it serves the route).

Load shedding: past `GATEWAY_MAX_INFLIGHT` requests in flight, answer 503 at once. Without a cap
an overloaded gateway queues without bound: every request waits longer, until clients time out
on all of them. With it, the requests over the cap get an immediate 503 + Retry-After
(problem+json) and the ones under it keep their latency. Shedding comes before the rate limit's
Redis round trip. The health probes and /metrics are never shed nor limited: an operator must
see an overloaded gateway as alive and busy, not dead.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway import ratelimit
from gateway.metrics import INFLIGHT, SHED, count_inflight
from gateway.problems import problem_response
from gateway.ratelimit import EXEMPT_PATHS
from gateway.routing import FastLane
from shared.errors import ServiceUnavailable

RETRY_AFTER_SECONDS = 1


class Admission:
    """Counts this process's requests in flight (`max_inflight=0` switches shedding off) and
    spends the per-IP budget of `limiter` (None when RATE_LIMIT_ENABLED=false)."""

    def __init__(self, app: ASGIApp, max_inflight: int, lane: FastLane | None = None,
                 limiter: ratelimit.RateLimiter | None = None) -> None:
        self.app = app
        self.limiter = limiter
        self.max_inflight = max_inflight
        self.inflight = 0
        self.lane = lane
        # True: gateway_inflight_requests counted request by request (several workers); else
        # the gauge reads `inflight` when scraped (metrics.count_inflight).
        self.gauged = not count_inflight(self)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        shedding = self.max_inflight > 0
        if shedding:
            if self.inflight >= self.max_inflight:
                SHED.inc()
                error = ServiceUnavailable("The gateway is at capacity; retry shortly.",
                                           extra={"retry_after": RETRY_AFTER_SECONDS})
                request_id = scope.get("state", {}).get("request_id")
                await problem_response(error, request_id)(scope, receive, send)
                return
            self.inflight += 1
            if self.gauged:
                INFLIGHT.inc()
        try:  # one coroutine for all of it: each nested await costs a frame per request
            limiter = self.limiter
            if limiter is not None and not await ratelimit.admit(limiter, scope, receive, send):
                return
            if self.lane is None or not await self.lane.serve(scope, receive, send):
                await self.app(scope, receive, send)
        finally:
            if shedding:
                self.inflight -= 1
                if self.gauged:
                    INFLIGHT.dec()

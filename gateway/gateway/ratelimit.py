"""Request budgets shared by every gateway process through Redis (and only Redis).

Per client IP on every path but the probes (RateLimitMiddleware: the `auth` budget on /auth/*,
`default` elsewhere) and, outside /auth/*, per verified user too (`charge_user`, called by
gateway.security once the token checks out: `user` budget, key `user:<sub>`). The answer's
RateLimit-* headers describe whichever budget has less left.

Fixed one-minute windows counted in Redis by a Lua script (INCRBY, and EXPIRE on the window's
first lease). A process leases a slice of a budget at a time (`lease_size`: a second's worth at
the full rate, at most 100; 1 for budgets under 120 a minute, so small budgets are exact) and
spends it locally, so a busy client costs one Redis round trip per slice, not per request (the
round trip was most of the limiter's CPU: bench/edge_overhead.py). The price: slices leased by
other processes and not yet spent are not available here, so a client can be refused up to
(processes - 1) x slice requests early, never late. A budget seen spent is refused locally for
the rest of its window.
If Redis is unreachable the gateway keeps serving (fail open), logs it and counts it, and
stops asking Redis for a short while so a dead Redis costs nothing per request.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from gateway.config import GatewaySettings
from gateway.metrics import RATE_LIMIT_FAIL_OPEN, RATE_LIMITED
from gateway.problems import problem_response
from gateway.state import state_of
from shared.errors import TooManyRequests

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60
REDIS_BACKOFF_SECONDS = 1.0
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
SPEND_SCRIPT = """
local count = redis.call('INCRBY', KEYS[1], ARGV[2])
if count == tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""
MAX_LEASE = 100


@dataclass(frozen=True)
class Budget:
    name: str
    per_minute: int

    @property
    def lease_size(self) -> int:
        return max(1, min(MAX_LEASE, self.per_minute // WINDOW_SECONDS))


class RateLimiter:
    def __init__(self, redis: Redis, auth_budget: Budget, default_budget: Budget,
                 prefix: str = "suite", user_budget: Budget | None = None) -> None:
        self.redis = redis
        self.prefix = prefix
        self.auth_budget = auth_budget
        self.default_budget = default_budget
        self.user_budget = user_budget or Budget("user", default_budget.per_minute)
        self._spend = redis.register_script(SPEND_SCRIPT)
        self._redis_down_until = 0.0
        self._window = 0
        # (budget, subject, window) -> [count in Redis when leased, left]; current window only
        self._leases: dict[tuple[str, str, int], list[int]] = {}

    def budget_for(self, path: str) -> Budget:
        return self.auth_budget if path.startswith("/auth/") else self.default_budget

    async def spend(self, budget: Budget, subject: str) -> tuple[bool, int, int]:
        """Count one request; returns (allowed, remaining, seconds until the window resets)."""
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        reset = WINDOW_SECONDS - int(now % WINDOW_SECONDS)
        if now < self._redis_down_until:
            RATE_LIMIT_FAIL_OPEN.inc()
            return True, budget.per_minute, reset
        if window != self._window:
            self._window, self._leases = window, {}
        # The window in the key too: a lease granted after the window turned stays in its own.
        lease_key = (budget.name, subject, window)  # a string only for a Redis round trip
        lease = self._leases.get(lease_key)
        if lease is not None and (lease[1] > 0 or lease[0] >= budget.per_minute):
            return self._take(lease, budget.per_minute, reset)
        size = budget.lease_size
        key = f"{self.prefix}:rl:{budget.name}:{subject}:{window}"
        try:
            count = int(await self._spend(keys=[key], args=[WINDOW_SECONDS, size]))
        except (RedisError, OSError):
            self._redis_down_until = now + REDIS_BACKOFF_SECONDS
            RATE_LIMIT_FAIL_OPEN.inc()
            log.warning("rate limiter: Redis unreachable, failing open")
            return True, budget.per_minute, reset
        granted = max(0, min(size, budget.per_minute - (count - size)))
        lease = self._leases.setdefault(lease_key, [count, 0])  # a concurrent lease's rest is kept
        lease[0] = max(lease[0], count)
        lease[1] += granted
        return self._take(lease, budget.per_minute, reset)

    @staticmethod
    def _take(lease: list[int], per_minute: int, reset: int) -> tuple[bool, int, int]:
        if lease[1] == 0:
            return False, 0, reset
        lease[1] -= 1
        return True, max(0, per_minute - lease[0]) + lease[1], reset


def build(config: GatewaySettings) -> RateLimiter | None:
    """The process's limiter, or None when RATE_LIMIT_ENABLED=false (benchmarks)."""
    if not config.rate_limit_enabled:
        return None
    redis = Redis.from_url(config.redis_url, socket_timeout=0.25, socket_connect_timeout=0.25)
    return RateLimiter(redis, Budget("auth", config.rate_limit_auth_per_minute),
                       Budget("default", config.rate_limit_per_minute), config.redis_prefix,
                       Budget("user", config.rate_limit_user_per_minute))


# Pre-encoded header values: the window's reset (1-60 s) and each budget's limit.
_RESET = [(b"ratelimit-reset", str(seconds).encode()) for seconds in range(WINDOW_SECONDS + 1)]
_LIMITS: dict[int, tuple[bytes, bytes]] = {}


def _headers(per_minute: int, remaining: int, reset: int) -> list[tuple[bytes, bytes]]:
    limit = _LIMITS.get(per_minute)
    if limit is None:
        limit = _LIMITS[per_minute] = (b"ratelimit-limit", str(per_minute).encode())
    return [limit, (b"ratelimit-remaining", str(remaining).encode()),
            _RESET[reset] if 0 <= reset <= WINDOW_SECONDS
            else (b"ratelimit-reset", str(reset).encode())]


def chosen_headers(state: dict[str, Any]) -> list[tuple[bytes, bytes]] | None:
    """RateLimit-* of whichever budget, IP or user, has less left; None when none was spent
    (limits off, an exempt path, a refused or shed request before the limit)."""
    ip = state.get("rate_limit")
    if ip is None:
        return None
    user = state.get("rate_limit_user")
    return _headers(*(user if user is not None and user[1] < ip[1] else ip))


async def charge_user(request: Request, user_id: str) -> None:
    """Spend one request of the user's budget (not on /auth/*, which is per IP); 429 when spent.
    The RateLimit-* headers are left to the edge (request.state.rate_limit_user)."""
    limiter = state_of(request).limiter
    state = request.scope["state"]  # the request's own (gateway.middleware)
    if (limiter is None or request.url.path.startswith("/auth/")
            or state.get("rate_limit_user") is not None):
        return
    budget = limiter.user_budget
    allowed, remaining, reset = await limiter.spend(budget, f"user:{user_id}")
    state["rate_limit_user"] = (budget.per_minute, remaining, reset)
    if not allowed:
        RATE_LIMITED.labels(budget.name).inc()
        raise TooManyRequests("Too many requests for this account; slow down.",
                              extra={"retry_after": reset})


async def admit(limiter: RateLimiter, scope: Scope, receive: Receive, send: Send) -> bool:
    """Spend one request of the client IP's budget (gateway.shedding.Admission calls it); False
    once it answered 429 itself. The RateLimit-* headers go on through the request's state."""
    path = scope["path"]
    budget = limiter.budget_for(path)
    client = scope.get("client")
    allowed, remaining, reset = await limiter.spend(
        budget, f"ip:{client[0] if client else 'unknown'}")
    state = scope["state"]
    state["rate_limit"] = (budget.per_minute, remaining, reset)
    if allowed:
        return True
    RATE_LIMITED.labels(budget.name).inc()
    error = TooManyRequests("Too many requests; slow down.", extra={"retry_after": reset})
    await problem_response(error, state.get("request_id"))(scope, receive, send)
    return False

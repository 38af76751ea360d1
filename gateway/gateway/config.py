"""The gateway process's one settings object, read from the environment."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import DEFAULT_AMQP_URI, load

SERVICES = ("auth", "catalog", "payments")
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    host: str = Field(default="127.0.0.1", validation_alias="GATEWAY_HOST")
    port: int = Field(default=8000, ge=0, le=65535, validation_alias="GATEWAY_PORT")
    workers: int = Field(default=1, ge=1, validation_alias="GATEWAY_WORKERS")
    # The gateway's own broker user (docs/security.md): GATEWAY_AMQP_URI wins where both are set.
    amqp_uri: str = Field(default=DEFAULT_AMQP_URI,
                          validation_alias=AliasChoices("GATEWAY_AMQP_URI", "AMQP_URI"))
    rpc_timeout: float = Field(default=5.0, gt=0, validation_alias="GATEWAY_RPC_TIMEOUT")
    readiness_timeout: float = Field(default=1.0, gt=0, validation_alias="GATEWAY_READY_TIMEOUT")
    max_body_bytes: int = Field(default=64 * 1024, ge=1, validation_alias="GATEWAY_MAX_BODY")
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", validation_alias="REDIS_URL")
    redis_prefix: str = Field(default="suite", min_length=1, validation_alias="REDIS_PREFIX")
    rate_limit_enabled: bool = Field(default=True, validation_alias="RATE_LIMIT_ENABLED")
    rate_limit_auth_per_minute: int = Field(default=120, ge=1,
                                            validation_alias="RATE_LIMIT_AUTH_PER_MINUTE")
    rate_limit_per_minute: int = Field(default=6000, ge=1, validation_alias="RATE_LIMIT_PER_MINUTE")
    # Per verified user (the token's sub), outside /auth/*, on top of the per-IP budget.
    rate_limit_user_per_minute: int = Field(default=6000, ge=1,
                                            validation_alias="RATE_LIMIT_USER_PER_MINUTE")
    # Edge resilience (docs/gateway.md): load shedding (0 = off) and per-service breakers.
    max_inflight: int = Field(default=512, ge=0, validation_alias="GATEWAY_MAX_INFLIGHT")
    # Slow clients (docs/gateway.md, "Edge hardening"; gateway.edge_protocol): seconds for a
    # request's headers and, once they are in, for its body; open connections per client
    # address (0 = no cap; trusted proxies are never capped).
    header_timeout: float = Field(default=10.0, gt=0, validation_alias="GATEWAY_HEADER_TIMEOUT")
    body_timeout: float = Field(default=15.0, gt=0, validation_alias="GATEWAY_BODY_TIMEOUT")
    max_client_connections: int = Field(default=64, ge=0,
                                        validation_alias="GATEWAY_MAX_CLIENT_CONNECTIONS")
    # Comma-separated addresses or CIDR ranges whose X-Forwarded-For / -Proto are believed;
    # empty: nobody's (the client address is the socket's peer).
    trusted_proxies: str = Field(default="", validation_alias="GATEWAY_TRUSTED_PROXIES")
    # uvicorn's own variable, no longer read: refused at start so it is not silently ignored.
    forwarded_allow_ips: str | None = Field(default=None, validation_alias="FORWARDED_ALLOW_IPS")
    breaker_enabled: bool = Field(default=True, validation_alias="GATEWAY_BREAKER_ENABLED")
    breaker_failures: int = Field(default=5, ge=1, validation_alias="GATEWAY_BREAKER_FAILURES")
    breaker_ratio: float = Field(default=0.5, gt=0, le=1,
                                 validation_alias="GATEWAY_BREAKER_FAILURE_RATIO")
    breaker_window: float = Field(default=10.0, gt=0, validation_alias="GATEWAY_BREAKER_WINDOW")
    breaker_cooldown: float = Field(default=5.0, gt=0, validation_alias="GATEWAY_BREAKER_COOLDOWN")
    # HTTPS when both are set (python -m gateway); HSTS is sent on HTTPS responses only.
    tls_cert: str | None = Field(default=None, validation_alias="GATEWAY_TLS_CERT")
    tls_key: str | None = Field(default=None, validation_alias="GATEWAY_TLS_KEY")
    hsts_max_age: int = Field(default=31_536_000, ge=0, validation_alias="GATEWAY_HSTS_MAX_AGE")
    # Comma-separated allowed origins ("*" for any); empty: no CORS headers at all.
    cors_origins: str = Field(default="", validation_alias="GATEWAY_CORS_ORIGINS")
    cache_enabled: bool = Field(default=True, validation_alias="GATEWAY_CACHE_ENABLED")
    # Catalog read cache (gateway.cache): events invalidate it; the TTL is only a safety net.
    cache_ttl: float = Field(default=1.0, gt=0, le=60, validation_alias="GATEWAY_CACHE_TTL")
    # Concurrent single-product reads share one catalog call (gateway.batching, ADR 0008).
    batch_reads: bool = Field(default=True, validation_alias="GATEWAY_BATCH_READS")
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    # docs/observability.md. Off only to measure their cost: per-route request metrics, and the
    # W3C trace (traceparent in, a span per request, trace ids in logs and to the services).
    metrics_enabled: bool = Field(default=True, validation_alias="GATEWAY_METRICS_ENABLED")
    tracing_enabled: bool = Field(default=True, validation_alias="GATEWAY_TRACING_ENABLED")
    # Mounts /_bench/* (routes/bench.py) for bench/run.py; never enable it in a deployment.
    bench_routes: bool = Field(default=False, validation_alias="GATEWAY_BENCH_ROUTES")

    @model_validator(mode="after")
    def _tls_pair(self) -> GatewaySettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("set both GATEWAY_TLS_CERT and GATEWAY_TLS_KEY, or neither")
        return self

    @model_validator(mode="after")
    def _proxies(self) -> GatewaySettings:
        if self.forwarded_allow_ips is not None:
            raise ValueError("FORWARDED_ALLOW_IPS is not read: list the proxies' addresses or "
                             "CIDR ranges in GATEWAY_TRUSTED_PROXIES instead")
        self.proxy_networks()  # a bad entry is refused at start
        return self

    def proxy_networks(self) -> list[IPNetwork]:
        """GATEWAY_TRUSTED_PROXIES parsed: addresses and ranges only (no `*`, no names)."""
        entries = [entry.strip() for entry in self.trusted_proxies.split(",") if entry.strip()]
        try:
            return [ipaddress.ip_network(entry) for entry in entries]
        except ValueError as error:
            raise ValueError(f"GATEWAY_TRUSTED_PROXIES: {error} (addresses or CIDR ranges, "
                             "comma-separated)") from None


@lru_cache(maxsize=1)
def settings() -> GatewaySettings:
    return load(GatewaySettings)

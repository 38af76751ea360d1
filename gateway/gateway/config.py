"""The gateway process's one settings object, read from the environment."""

from __future__ import annotations

from functools import lru_cache

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import DEFAULT_AMQP_URI

SERVICES = ("auth", "catalog", "payments")


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


@lru_cache(maxsize=1)
def settings() -> GatewaySettings:
    return GatewaySettings()

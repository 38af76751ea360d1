"""The web front end's settings, from the environment (docs/web.md has the table)."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)


class BadConfig(ValueError):
    """A setting that cannot be used; reported as one line at start."""


@dataclass(frozen=True)
class WebSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    api_url: str = "http://127.0.0.1:8000"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "web:"
    secret: str = ""
    secure_cookies: bool = False
    session_ttl: int = 7 * 24 * 3600
    api_timeout: float = 6.0
    metrics_port: int = 9104


def _flag(raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off", ""):
        return False
    raise BadConfig(f"WEB_SECURE_COOKIES must be true or false, not {raw!r}")


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise BadConfig(f"{name} must be a number, not {raw!r}") from None
    if value <= 0:
        raise BadConfig(f"{name} must be positive")
    return value


def _port(raw: str) -> int:
    raw = raw.strip() or "0"
    if not raw.isdigit() or int(raw) > 65535:
        raise BadConfig(f"WEB_METRICS_PORT must be a port number (0: off), not {raw!r}")
    return int(raw)


def settings(env: Mapping[str, str] = os.environ) -> WebSettings:
    secret = env.get("WEB_SECRET", "")
    if not secret:
        # Fine for one process; several replicas must share WEB_SECRET (CSRF tokens).
        log.warning("WEB_SECRET is not set: using a random one for this process")
        secret = secrets.token_urlsafe(32)
    elif len(secret) < 16:
        raise BadConfig("WEB_SECRET must be at least 16 characters")
    return WebSettings(
        host=env.get("WEB_HOST", "127.0.0.1"),
        port=int(_number(env, "WEB_PORT", 8080)),
        api_url=env.get("WEB_API_URL", "http://127.0.0.1:8000").rstrip("/"),
        redis_url=env.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        redis_prefix=env.get("WEB_REDIS_PREFIX", "web:"),
        secret=secret,
        secure_cookies=_flag(env.get("WEB_SECURE_COOKIES", "false")),
        session_ttl=int(_number(env, "WEB_SESSION_TTL", 7 * 24 * 3600)),
        api_timeout=_number(env, "WEB_API_TIMEOUT", 6.0),
        metrics_port=_port(env.get("WEB_METRICS_PORT", "9104")),
    )

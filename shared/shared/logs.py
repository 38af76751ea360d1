"""JSON log lines that carry the request's context (request id, trace id, user, method)."""

from __future__ import annotations

import contextvars
import logging
import sys
import time
from typing import Any

import orjson

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "log_context", default=None)
_SERVICE = {"name": "-"}
# Never written to a log line, whatever a caller passes in `extra`.
_SECRET_KEYS = frozenset({"password", "token", "access_token", "refresh_token", "authorization"})
_RESERVED = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


def bind(**fields: Any) -> contextvars.Token[dict[str, Any] | None]:
    current = dict(_context.get() or {})
    current.update({k: v for k, v in fields.items() if v is not None})
    return _context.set(current)


def reset(token: contextvars.Token[dict[str, Any] | None]) -> None:
    _context.set(token.old_value if token.old_value is not contextvars.Token.MISSING else None)


def current() -> dict[str, Any]:
    return dict(_context.get() or {})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": _SERVICE["name"],
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = dict(_context.get() or {})
        fields.update((key, value) for key, value in vars(record).items()
                      if key not in _RESERVED and not key.startswith("_"))
        # Bound context is redacted too: a caller may bind what it got from a request.
        for key, value in fields.items():
            line[key] = "[redacted]" if key.lower() in _SECRET_KEYS else value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure(service: str, level: str = "INFO") -> None:
    _SERVICE["name"] = service
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())

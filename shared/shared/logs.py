"""JSON log lines that carry the request's context (request id, trace id, user, method)."""

from __future__ import annotations

import contextvars
import itertools
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
_INIT_FIELDS = len(vars(logging.makeLogRecord({})))  # what every LogRecord starts with


def bind(**fields: Any) -> contextvars.Token[dict[str, Any] | None]:
    bound = _context.get()
    current = dict(bound) if bound else {}
    for key, value in fields.items():
        if value is not None:
            current[key] = value
    return _context.set(current)


def reset(token: contextvars.Token[dict[str, Any] | None]) -> None:
    _context.set(token.old_value if token.old_value is not contextvars.Token.MISSING else None)


def current() -> dict[str, Any]:
    return dict(_context.get() or {})


class JsonFormatter(logging.Formatter):
    """One JSON object per record. Run for every log line of every process (the gateway writes
    one per request), so it builds one dict, formats the timestamp's second once per second,
    and remembers which field names are secret."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"ts": _timestamp(record), "level": record.levelname,
                                "service": _SERVICE["name"], "logger": record.name,
                                "msg": record.getMessage()}
        secrets = _secrets
        bound = _context.get()
        if bound:  # bound context is redacted too: a caller may bind what it got from a request
            for key, value in bound.items():
                secret = secrets.get(key)
                line[key] = "[redacted]" if (_secret(key) if secret is None else secret) \
                    else value
        attributes = record.__dict__
        if len(attributes) > _INIT_FIELDS:  # any `extra`? most records have none
            # Extras come after the attributes LogRecord.__init__ sets: scan only those.
            for key, value in itertools.islice(attributes.items(), _INIT_FIELDS, None):
                if key not in _RESERVED and key[:1] != "_":
                    secret = secrets.get(key)
                    line[key] = "[redacted]" if (_secret(key) if secret is None else secret) \
                        else value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


_second: tuple[int, str] = (-1, "")
_secrets: dict[str, bool] = {}


def _timestamp(record: logging.LogRecord) -> str:
    global _second
    second, text = _second  # one tuple: threads that race only format the same second twice
    if int(record.created) != second:
        second = int(record.created)
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second = (second, text)
    return f"{text}.{int(record.msecs):03d}Z"


def _secret(key: str) -> bool:
    """Whether a field is never written (remembered: format() looks the name up first)."""
    if len(_secrets) > 1000:  # field names come from code, but never grow without bound
        _secrets.clear()
    known = _secrets[key] = key.lower() in _SECRET_KEYS
    return known


def configure(service: str, level: str = "INFO") -> None:
    _SERVICE["name"] = service
    # No line carries the caller's file, line or function, process or thread: don't collect
    # them for every record (walking the stack was most of a log call's cost). `_srcfile = None`
    # is logging's documented switch for that.
    logging._srcfile = None
    logging.logMultiprocessing = logging.logProcesses = logging.logThreads = False
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())

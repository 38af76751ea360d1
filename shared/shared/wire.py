"""JSON rules for everything that crosses the bus.

UUIDs, datetimes and dates travel as strings (RFC 3339 UTC for times), whatever kombu
version a peer runs: kombu >= 5.3 otherwise wraps them in `__type__` envelopes that
other clients cannot read. No pickle, ever.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import orjson

CONTENT_TYPE = "application/json"
CONTENT_ENCODING = "utf-8"


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return to_utc(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        raise TypeError("Decimal is not allowed on the wire: send integer minor units")
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


# Datetimes go through _default: orjson would keep a non-UTC offset as it is. Naive datetimes
# are UTC by the suite's rule; UTC is written with 'Z' (the options cover datetime dict keys).
_OPTIONS = (orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z
            | orjson.OPT_NON_STR_KEYS)


def dumps(value: Any) -> str:
    return dumpb(value).decode()


def dumpb(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=_OPTIONS)


def loads(data: str | bytes | bytearray | memoryview) -> Any:
    if isinstance(data, memoryview):
        data = bytes(data)
    return orjson.loads(data)


def register_kombu_json() -> None:
    """Make kombu's 'json' serializer follow these rules (and be fast)."""
    from kombu.serialization import register

    register("json", dumps, loads, content_type=CONTENT_TYPE,  # type: ignore[no-untyped-call]
             content_encoding=CONTENT_ENCODING)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)

"""Process-wide preparation every service performs once, before nameko starts its extensions."""

from __future__ import annotations

import gc

from nameko import exceptions as nameko_exceptions

from shared import errors, logs, preflight, wire

_done: set[str] = set()


def prepare(service: str, log_level: str = "INFO", database: bool = True) -> None:
    if service in _done:
        return
    preflight.check_at_start(service, database)  # one line per unreachable server, not a traceback
    wire.register_kombu_json()
    logs.configure(service, log_level)
    _register_typed_errors()
    # What the imports made (nameko, SQLAlchemy, pydantic models, the service's own modules) is
    # kept out of the collector's sight: full collections walked it all, over and over, under
    # load (checkout at c=16: ~5% less CPU per checkout).
    gc.collect()
    gc.freeze()
    _done.add(service)


def _register_typed_errors() -> None:
    # Lets service-to-service RpcProxy calls raise our typed errors instead of RemoteError.
    for cls in errors.WIRE_ERRORS.values():
        nameko_exceptions.registry[f"{cls.__module__}.{cls.__name__}"] = cls

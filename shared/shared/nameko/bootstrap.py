"""Process-wide preparation every service performs once, before nameko starts its extensions."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

from nameko import exceptions as nameko_exceptions
from nameko.extensions import DependencyProvider

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
    # kept out of the collector's sight, so full collections under load do not walk it again.
    gc.collect()
    gc.freeze()
    _done.add(service)


def _register_typed_errors() -> None:
    # Lets service-to-service RpcProxy calls raise our typed errors instead of RemoteError.
    for cls in errors.WIRE_ERRORS.values():
        nameko_exceptions.registry[f"{cls.__module__}.{cls.__name__}"] = cls


class Prepared(DependencyProvider):  # type: ignore[misc]
    """`prepared = Prepared("auth", lambda: settings().log_level)` on a service class: `prepare`
    runs when a container is built (nameko binds its extensions before any setup()), so
    importing the service module (tests, tools) changes nothing in the process."""

    def __init__(self, service: str, log_level: Callable[[], str]) -> None:
        self._service = service
        self._log_level = log_level

    def bind(self, container: Any, attr_name: str) -> Any:
        prepare(self._service, self._log_level())
        return super().bind(container, attr_name)

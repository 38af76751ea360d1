"""Typed errors on the wire: nameko serialises one as `{exc_type, exc_path, exc_args, value}`;
`error_for_wire` rebuilds it; anything that is not ours becomes a bare 500 with no text."""

from __future__ import annotations

from typing import Any

from shared.errors.base import SuiteError


def _tree(root: type[SuiteError]) -> list[type[SuiteError]]:
    return [root, *(cls for sub in root.__subclasses__() for cls in _tree(sub))]


def wire_errors() -> dict[str, type[SuiteError]]:
    """Every class of the tree by name; names are unique because `exc_type` is the key."""
    found: dict[str, type[SuiteError]] = {}
    for cls in _tree(SuiteError):
        if found.setdefault(cls.__name__, cls) is not cls:
            raise TypeError(f"two wire errors are named {cls.__name__}")
    return found


def _by_meaning(cls: type[SuiteError], extra: dict[str, Any] | None) -> type[SuiteError]:
    # A sender that put only a root and extra["code"] on the wire still gets caught by meaning.
    code = (extra or {}).get("code")
    for sub in _tree(cls)[1:]:
        if sub.code is not None and sub.code == code:
            return sub
    return cls


def error_for_wire(payload: dict[str, Any], known: dict[str, type[SuiteError]]) -> SuiteError:
    cls = known.get(str(payload.get("exc_type")))
    if cls is None or not str(payload.get("exc_path", "")).startswith("shared.errors."):
        return SuiteError()
    args = payload.get("exc_args")
    if not isinstance(args, list):  # never raise here: the caller is answering a request
        args = []
    detail = args[0] if args and isinstance(args[0], str) else ""
    errors = args[1] if len(args) > 1 and isinstance(args[1], list) else None
    extra = args[2] if len(args) > 2 and isinstance(args[2], dict) else None
    return _by_meaning(cls, extra)(detail, errors, extra)

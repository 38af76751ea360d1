"""Human-readable tables, or JSON for machines (`--json`)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import orjson


def as_json(data: Any) -> str:
    return orjson.dumps(data, default=str, option=orjson.OPT_INDENT_2).decode()


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(header) for header in headers]]
    cells += [["-" if value is None else str(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
             for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def shorten(value: Any, width: int = 60) -> str:
    text = "" if value is None else " ".join(str(value).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def out(machine: bool, data: Any, text: Callable[[], str]) -> None:
    """JSON with --json, else the text; clears the progress line first."""
    progress("")
    print(as_json(data) if machine else text())


def progress(message: str) -> None:
    """A status line on a terminal's stderr, overwritten by the next (never in a pipe or log)."""
    if sys.stderr.isatty():
        sys.stderr.write(f"\r\033[K{message}" + ("…" if message else ""))
        sys.stderr.flush()

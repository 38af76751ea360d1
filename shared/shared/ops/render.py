"""Human-readable tables, or JSON for machines (`--json`)."""

from __future__ import annotations

from collections.abc import Sequence
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

"""Writing a generated file, or (`--check`) only telling whether the committed one is current."""

from __future__ import annotations

import sys
from pathlib import Path


def write_or_check(path: Path, text: str, argv: list[str], script: str) -> int:
    """0 when written, or with `--check` when `path` already holds `text`; else 1, said once."""
    if "--check" not in argv:
        path.write_text(text, encoding="utf-8")
        return 0
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if current == text:
        return 0
    print(f"{path} is out of date: run python tools/apidocs/{script}", file=sys.stderr)
    return 1

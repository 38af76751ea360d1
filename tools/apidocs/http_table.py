"""Renders the table of operations in docs/api/http-api.md from the gateway's OpenAPI document
(between the `operations` markers). `--check` exits 1 if the committed table is out of date."""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import Any

from generated import write_or_check

from gateway.app import create_app
from gateway.config import GatewaySettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "api" / "http-api.md"
START, END = "<!-- operations:start -->", "<!-- operations:end -->"
EDGE = {"429", "503"}  # answered by every limited operation: said once, above the table
METHODS = ("get", "post", "put", "patch", "delete")


def document() -> dict[str, Any]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        return create_app(GatewaySettings()).openapi()
    finally:  # create_app configures logging for a gateway process; leave the caller's alone
        root.handlers[:], root.level = handlers, level


def _who(operation: dict[str, Any]) -> str:
    if not operation.get("security"):
        return "anyone"
    return "admin" if "(admin" in operation.get("summary", "") else "user"


def _answers(operation: dict[str, Any]) -> tuple[str, str]:
    codes = sorted(operation["responses"])
    edge = EDGE if "429" in codes else set()  # the probes are never limited: their 503 shows
    success = ", ".join(code for code in codes if code < "400")
    errors = ", ".join(code for code in codes if code >= "400" and code not in edge)
    return success, errors or "-"


def table(spec: dict[str, Any]) -> str:
    rows = ["| operationId | method, path | who | success | errors |", "|---|---|---|---|---|"]
    for path, item in spec["paths"].items():
        for method in METHODS:
            if (operation := item.get(method)) is None:
                continue
            success, errors = _answers(operation)
            rows.append(f"| `{operation['operationId']}` | {method.upper()} `{path}` | "
                        f"{_who(operation)} | {success} | {errors} |")
    return "\n".join(rows)


def render(text: str, spec: dict[str, Any]) -> str:
    block = f"{START}\n{table(spec)}\n{END}"
    return re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: block, text,
                  flags=re.DOTALL)


def main(argv: list[str]) -> int:
    wanted = render(DOC.read_text(encoding="utf-8"), document())
    return write_or_check(DOC, wanted, argv, "http_table.py")

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

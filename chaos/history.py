"""The client's history: one JSON line per operation (Jepsen's invoke + completion in one).

outcome: `ok` (the definite success: 201 / 200), `fail` (a definite answer that nothing or a
refusal happened: 402, 409 out of stock, a 503 read), `indeterminate` (no definite answer by
the end: timeouts, 5xx, dropped connections). `unexpected` marks answers the contract does not
allow for what was sent (e.g. 422 for a valid body, a negative `available`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson


@dataclass
class Op:
    id: int
    kind: str  # checkout | login | read
    start: float  # seconds since the run's t0
    user: str | None = None
    key: str | None = None  # the Idempotency-Key of a checkout
    request: dict[str, Any] | None = None
    end: float | None = None
    outcome: str = "indeterminate"
    status: int | None = None  # the last HTTP status seen
    attempts: int = 0
    statuses: list[str] = field(default_factory=list)  # every attempt: "201", "timeout", ...
    payment_id: str | None = None
    result: dict[str, Any] = field(default_factory=dict)  # what the checker needs from the body
    unexpected: str | None = None


class History:
    def __init__(self, path: Path, t0: float) -> None:
        self.path = path
        self.t0 = t0
        self.ops: list[Op] = []
        self._out = path.open("ab")

    def now(self) -> float:
        return round(time.time() - self.t0, 3)

    def new(self, kind: str, **fields: Any) -> Op:
        op = Op(id=len(self.ops) + 1, kind=kind, start=self.now(), **fields)
        self.ops.append(op)
        return op

    def complete(self, op: Op, outcome: str, status: int | None = None) -> None:
        op.end, op.outcome, op.status = self.now(), outcome, status
        self._write(op)

    def close(self) -> None:
        """Every op without a definite answer is written as indeterminate."""
        for op in self.ops:
            if op.end is None:
                op.end = self.now()
                self._write(op)
        self._out.close()

    def _write(self, op: Op) -> None:
        self._out.write(orjson.dumps(asdict(op)) + b"\n")
        self._out.flush()

    @staticmethod
    def load(path: Path) -> list[Op]:
        ops: dict[int, Op] = {}
        for line in path.read_bytes().splitlines():
            record = orjson.loads(line)
            ops[record["id"]] = Op(**record)
        return [ops[k] for k in sorted(ops)]

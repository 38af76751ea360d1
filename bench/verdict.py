"""The arithmetic of a before/after comparison (bench/compare.py): CPU per request, ratios and the
verdict against a tolerance such as issue 15's "no worse than 5 %". Pure: samples in, figures out.

A sample is one wrk run of one side as bench/measure.py records it: `requests`, `rps`, `round`
and `cpu_s` (CPU seconds of each process during the run, `wrk` among them).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

LOAD_GENERATOR = "wrk"  # not the suite's cost
SHARED_BROKER = "rabbitmq"  # one node for every vhost: other helpers' traffic lands here too


def cpu_ms_per_request(samples: Iterable[dict[str, Any]],
                       leave_out: Sequence[str] = (LOAD_GENERATOR,)) -> float:
    """CPU milliseconds per request of every process but `leave_out`, pooled over `samples`."""
    runs = list(samples)
    requests = int(sum(s["requests"] for s in runs))
    if not requests:
        return float("nan")
    cpu = float(sum(seconds for s in runs for name, seconds in s["cpu_s"].items()
                    if name not in leave_out))
    return 1000.0 * cpu / requests


def round_ratios(before: Sequence[dict[str, Any]], after: Sequence[dict[str, Any]],
                 figure: str = "cpu") -> list[float]:
    """after / before of each round that both sides ran: CPU per request, or `rps`."""
    def value(sample: dict[str, Any]) -> float:
        return float(sample["rps"]) if figure == "rps" else cpu_ms_per_request([sample])

    mine = {s["round"]: s for s in before}
    return [value(s) / value(mine[s["round"]]) for s in after
            if s["round"] in mine and value(mine[s["round"]]) > 0]


@dataclass(frozen=True)
class Verdict:
    cpu_before_ms: float
    cpu_after_ms: float
    cpu_ratio: float  # pooled: after / before CPU per request
    cpu_ratio_rounds: tuple[float, ...]
    cpu_ratio_without_broker: float
    rps_before: float
    rps_after: float
    rps_ratio: float
    tolerance: float  # 0.05 for "no worse than 5 %"

    @property
    def passed(self) -> bool:
        return self.cpu_ratio <= 1.0 + self.tolerance

    @property
    def within_noise(self) -> bool:
        """The limit lies inside the per-round spread: the rounds disagree about the verdict."""
        rounds = self.cpu_ratio_rounds
        return bool(rounds) and min(rounds) <= 1.0 + self.tolerance <= max(rounds)

    @property
    def cpu_ratio_rounds_median(self) -> float:
        return statistics.median(self.cpu_ratio_rounds) if self.cpu_ratio_rounds \
            else float("nan")

    def text(self) -> str:
        word = "pass" if self.passed else "FAIL"
        change = 100.0 * (self.cpu_ratio - 1.0)
        noise = " (rounds disagree: within noise)" if self.within_noise else ""
        return f"{word}: {change:+.1f} % CPU per request, limit +{100 * self.tolerance:g} %{noise}"


def judge(before: Sequence[dict[str, Any]], after: Sequence[dict[str, Any]],
          tolerance: float) -> Verdict:
    """One scenario's verdict from both sides' samples of the same run."""
    if not before or not after:
        raise ValueError("both sides need samples")
    cpu_before, cpu_after = cpu_ms_per_request(before), cpu_ms_per_request(after)
    without = (LOAD_GENERATOR, SHARED_BROKER)
    rps_before = statistics.median(s["rps"] for s in before)
    rps_after = statistics.median(s["rps"] for s in after)
    return Verdict(
        cpu_before_ms=cpu_before, cpu_after_ms=cpu_after, cpu_ratio=cpu_after / cpu_before,
        cpu_ratio_rounds=tuple(round_ratios(before, after)),
        cpu_ratio_without_broker=(cpu_ms_per_request(after, without)
                                  / cpu_ms_per_request(before, without)),
        rps_before=rps_before, rps_after=rps_after,
        rps_ratio=rps_after / rps_before if rps_before else float("inf"),
        tolerance=tolerance)

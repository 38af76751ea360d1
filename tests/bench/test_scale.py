"""The pure parts of the scale scenario (bench/scale_report.py, bench/run.py's opt-in routing):
ratios and goals from ABBA samples, and `--only scale` never joining the default run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
_SAVED = list(sys.path)
sys.path.append(str(BENCH))  # only while importing: bench/catalog.py would shadow the service
try:
    import scale_report

    # Under its own name: `run` alone may already be another module (deploy/local/run.py).
    _spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
    assert _spec is not None and _spec.loader is not None
    run = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(run)
finally:
    sys.path[:] = _SAVED  # bench/run.py puts bench/ first on import


def samples(key: str, rounds: list[tuple[float, float, float, float]]) -> list[dict]:
    """(small rps, small p99, big rps, big p99) per round."""
    found = []
    for index, (small_rps, small_p99, big_rps, big_p99) in enumerate(rounds, 1):
        for size, rps, p99 in (("small", small_rps, small_p99), ("big", big_rps, big_p99)):
            found.append({"scenario": key, "size": size, "round": index, "rps": rps,
                          "p50_ms": p99 / 2, "p99_ms": p99, "non_2xx": 0, "socket_errors": 0,
                          "buffer_hit_ratio": 0.99 if size == "small" else 0.9})
    return found


def all_scenarios(**overrides: list[tuple[float, float, float, float]]) -> list[dict]:
    same = [(100.0, 10.0, 100.0, 10.0)] * 3
    return [s for key in scale_report.SCENARIOS for s in samples(key, overrides.get(key, same))]


def test_ratios_are_big_over_small_of_the_medians_and_judged_per_goal():
    summary = scale_report.summarise(all_scenarios(
        search=[(100.0, 10.0, 50.0, 30.0), (90.0, 12.0, 40.0, 40.0), (110.0, 11.0, 45.0, 20.0)],
        checkout=[(100.0, 10.0, 95.0, 10.0), (100.0, 10.0, 85.0, 10.0),
                  (100.0, 10.0, 92.0, 10.0)]))

    assert summary["search"]["p99_ratio"] == pytest.approx(30.0 / 11.0)
    assert summary["search"]["rate_ratio"] == pytest.approx(45.0 / 100.0)
    assert summary["search"]["met"] is False
    assert summary["search"]["round_ratios"][1] == pytest.approx((40.0 / 12.0, 40.0 / 90.0))
    assert summary["checkout"]["rate_ratio"] == pytest.approx(0.92)
    assert summary["checkout"]["met"] is True  # within 10 %, whatever its p99
    assert summary["product_read"]["met"] is True
    assert summary["product_read"]["big"]["buffer_hit_ratio"] == pytest.approx(0.9)


def test_a_goal_missed_by_a_hair_is_missed():
    summary = scale_report.summarise(all_scenarios(
        listing=[(100.0, 10.0, 100.0, 12.1)] * 3, checkout=[(100.0, 10.0, 89.0, 10.0)] * 3))

    assert summary["listing"]["met"] is False
    assert summary["checkout"]["met"] is False


def test_the_scale_scenario_is_opt_in_and_run_alone():
    assert "scale" not in run.SCENARIOS  # so never part of the default or --quick run
    assert run._opt_in(["--only", "scale", "--rounds", "2"]) == "scale"
    assert run._opt_in(["--only=scale"]) == "scale"
    assert run._opt_in(["--only", "checkout"]) is None
    assert run._opt_in(["--quick"]) is None

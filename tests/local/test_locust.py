"""A short headless Locust run of loadtest/locustfile.py against the suite ends with 0 failures."""

from __future__ import annotations

import csv
import os
import subprocess
from pathlib import Path

import pytest

from tests.support import infra

pytestmark = pytest.mark.e2e
LOCUST = infra.ROOT / ".venv-loadtest" / "bin" / "locust"


def test_a_short_headless_run_has_no_failures(suite: object, tmp_path: Path,
                                              suite_env: dict[str, str]) -> None:
    subprocess.run(["make", "-s", "loadtest-install"], cwd=infra.ROOT, check=True, timeout=600)
    env = {**os.environ, "LOCUST_ADMIN_EMAIL": suite_env["ADMIN_EMAIL"],
           "LOCUST_ADMIN_PASSWORD": suite_env["ADMIN_PASSWORD"],
           "LOCUST_PRODUCTS": "3"}
    result = subprocess.run(
        [str(LOCUST), "-f", str(infra.ROOT / "loadtest/locustfile.py"), "--headless",
         "--host", suite.url, "-u", "4", "-r", "4", "-t", "12s",  # type: ignore[attr-defined]
         "--only-summary", "--csv", str(tmp_path / "run")],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with (tmp_path / "run_stats.csv").open() as stats:
        rows = {row["Name"]: row for row in csv.DictReader(stats)}
    total = rows.pop("Aggregated")
    assert int(total["Failure Count"]) == 0
    assert int(total["Request Count"]) > 20
    assert {"/products", "/products?q=", "/auth/login", "/payments", "/me/overview"} <= set(rows)

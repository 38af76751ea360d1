"""The pure parts of the before/after comparison (bench/compare.py): the verdict arithmetic,
the dependency key of a commit's venv and ref resolution (on a throwaway git repository)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = str(Path(__file__).resolve().parents[2] / "bench")
sys.path.append(BENCH)  # only while importing: bench/catalog.py would shadow the service
try:
    import refsrc
    import suite
    import verdict
finally:
    sys.path.remove(BENCH)


def sample(round_, requests, rps, **cpu_s):
    return {"round": round_, "requests": requests, "rps": rps, "cpu_s": cpu_s}


def test_cpu_per_request_pools_rounds_and_leaves_out_the_load_generator():
    runs = [sample(1, 1000, 100.0, gateway=1.0, catalog=1.0, wrk=5.0),
            sample(2, 3000, 300.0, gateway=2.0, catalog=4.0, wrk=5.0)]

    assert verdict.cpu_ms_per_request(runs) == pytest.approx(1000 * 8.0 / 4000)
    assert verdict.cpu_ms_per_request(runs, ("wrk", "catalog")) == pytest.approx(0.75)


def test_no_requests_is_no_figure_rather_than_a_zero():
    assert verdict.cpu_ms_per_request([sample(1, 0, 0.0, gateway=1.0)]) != 0.0


def test_judge_passes_within_the_tolerance_and_pairs_rounds():
    before = [sample(1, 1000, 100.0, gateway=2.0, rabbitmq=1.0, wrk=9.0),
              sample(2, 1000, 110.0, gateway=2.0, rabbitmq=1.0, wrk=9.0)]
    after = [sample(2, 1000, 99.0, gateway=2.2, rabbitmq=1.0, wrk=9.0),
             sample(1, 1000, 95.0, gateway=2.0, rabbitmq=1.1, wrk=9.0)]

    found = verdict.judge(before, after, tolerance=0.05)

    assert found.cpu_ratio == pytest.approx(6.3 / 6.0)
    assert found.cpu_ratio_rounds == pytest.approx((3.2 / 3.0, 3.1 / 3.0))
    assert found.cpu_ratio_rounds_median == pytest.approx(3.15 / 3.0)
    assert found.cpu_ratio_without_broker == pytest.approx(4.2 / 4.0)
    assert found.rps_ratio == pytest.approx(97.0 / 105.0)
    assert found.passed
    assert found.within_noise  # round 2 alone is +6.7 %
    assert found.text().startswith("pass: +5.0 %")


def test_judge_fails_beyond_the_tolerance():
    before = [sample(1, 1000, 100.0, gateway=2.0)]
    after = [sample(1, 1000, 90.0, gateway=2.2)]

    found = verdict.judge(before, after, tolerance=0.05)

    assert not found.passed
    assert not found.within_noise
    assert found.text().startswith("FAIL: +10.0 %")


def test_judge_needs_both_sides():
    with pytest.raises(ValueError):
        verdict.judge([], [sample(1, 10, 1.0, gateway=1.0)], tolerance=0.05)


LISTING = ("100644 blob aaa\tconstraints.txt\n100644 blob bbb\tgateway/pyproject.toml\n"
           "100644 blob ccc\tgateway/gateway/app.py\n100644 blob ddd\trequirements-dev.txt\n")
MAKEFILE = "VENV := .venv\nPACKAGES := shared gateway\nPY := $(VENV)/bin/python\n"


def test_dependency_key_ignores_code_and_the_rest_of_the_makefile():
    code_changed = LISTING.replace("ccc", "eee")
    makefile_changed = MAKEFILE.replace(".venv\n", ".venv\n# a comment\n")

    key = refsrc.dependency_key(LISTING, MAKEFILE)

    assert refsrc.dependency_key(code_changed, makefile_changed) == key


@pytest.mark.parametrize("listing, makefile", [
    (LISTING.replace("aaa", "fff"), MAKEFILE),  # constraints changed
    (LISTING.replace("bbb", "fff"), MAKEFILE),  # a pyproject changed
    (LISTING, MAKEFILE.replace("shared gateway", "shared gateway web")),  # packages changed
])
def test_dependency_key_follows_what_the_venv_depends_on(listing, makefile):
    assert refsrc.dependency_key(listing, makefile) != refsrc.dependency_key(LISTING, MAKEFILE)


@pytest.fixture()
def repository(tmp_path):
    """Two commits on `main`, the first tagged v1: (path, first commit, second commit)."""
    def git(*args):
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                              cwd=tmp_path, check=True, capture_output=True,
                              text=True).stdout.strip()

    git("init", "-q", "-b", "main")
    for n in (1, 2):
        (tmp_path / "f").write_text(str(n))
        git("add", "f")
        git("commit", "-q", "-m", f"c{n}")
    git("tag", "-a", "v1", "-m", "an annotated tag names a tag object, not the commit", "HEAD~1")
    return tmp_path, git("rev-parse", "HEAD~1"), git("rev-parse", "HEAD")


def test_resolve_names_the_full_commit_of_a_branch_tag_short_id_or_expression(repository):
    path, first, last = repository

    assert refsrc.resolve("main", path) == last
    assert refsrc.resolve("v1", path) == first
    assert refsrc.resolve(first[:7], path) == first
    assert refsrc.resolve("HEAD~1", path) == first


@pytest.mark.parametrize("ref", ["no-such-branch", "--all", "0" * 40])
def test_resolve_refuses_what_is_no_commit(repository, ref):
    with pytest.raises(suite.BenchError):
        refsrc.resolve(ref, repository[0])

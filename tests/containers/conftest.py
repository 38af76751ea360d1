"""The container test's fixtures (marker `containers`, `make test-containers`; root only):
a private dockerd, the stand-in base images, the project image built with both builders, and
the compose stack up and healthy. Timings go to the terminal summary (docs/deploy.md quotes
them); a failing test gets every container's compose logs attached to its report."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.containers import standins
from tests.containers.engine import CACHE, Engine, private_engine
from tests.containers.stack import Stack, build_image

RESULTS: dict[str, Any] = {}
_STACK: list[Stack] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/containers/" in str(item.fspath):
            item.add_marker(pytest.mark.containers)
            item.add_marker(pytest.mark.timeout(1200))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome: Any = yield
    report = outcome.get_result()
    if report.failed and _STACK and "tests/containers/" in str(item.fspath):
        report.sections.append(("compose logs of every container", _STACK[0].logs()))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if RESULTS:
        terminalreporter.section("container test figures (docs/deploy.md)")
        for key, value in RESULTS.items():
            terminalreporter.write_line(f"{key}: {value}")
        (CACHE / "last-run.json").write_text(json.dumps(RESULTS, indent=2) + "\n")


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    started = time.monotonic()
    with private_engine() as running:
        RESULTS["dockerd start s"] = round(time.monotonic() - started, 1)
        yield running


@pytest.fixture(scope="session")
def standin_images(engine: Engine) -> dict[str, float]:
    started = time.monotonic()
    timings = standins.ensure_standins(engine)
    RESULTS["stand-ins s (0 = cached)"] = timings
    RESULTS["stand-ins total s"] = round(time.monotonic() - started, 1)
    return timings


@pytest.fixture(scope="session")
def image(engine: Engine, standin_images: dict[str, float]) -> Iterator[str]:
    """deploy/Dockerfile, unchanged, with the classic builder and with BuildKit (the one run),
    side by side (separate caches; mostly pip downloads)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        classic_build = pool.submit(build_image, engine, "commerce-suite:classic-builder", False)
        buildkit_build = pool.submit(build_image, engine, "commerce-suite:local", True)
        classic, buildkit = classic_build.result(), buildkit_build.result()
    RESULTS["image build s, side by side (classic, BuildKit)"] = (classic.seconds,
                                                                  buildkit.seconds)
    RESULTS["image size MB"] = buildkit.megabytes
    try:
        yield buildkit.tag
    finally:
        for tag in (classic.tag, buildkit.tag):
            engine.run("image", "rm", "-f", tag, check=False)
        engine.run("container", "prune", "-f", check=False)
        engine.run("builder", "prune", "-af", check=False)
        engine.run("image", "prune", "-f", check=False)


@pytest.fixture(scope="session")
def stack(engine: Engine, image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(engine, tmp_path_factory.mktemp("compose"))
    _STACK.append(running)
    try:
        RESULTS["time to healthy s"] = running.up()
        yield running
    finally:
        _STACK.clear()
        running.down()

"""Fixtures over the fakes of auth's ports (fakes.py)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

from auth.use_cases import Deps


def _load_fakes() -> Any:
    # A unique module name: other components' unit tests have a fakes.py of their own.
    name = "auth_unit_fakes"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("fakes.py"))
        assert spec is not None and spec.loader is not None
        sys.modules[name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]


fakes = _load_fakes()
Clock, FakePasswords, FakeStore, FakeTokens = (
    fakes.Clock, fakes.FakePasswords, fakes.FakeStore, fakes.FakeTokens)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> FakeStore:
    return FakeStore(clock)


@pytest.fixture
def passwords() -> FakePasswords:
    return FakePasswords()


@pytest.fixture
def deps(store: FakeStore, passwords: FakePasswords, clock: Clock) -> Deps:
    return Deps(store=store, passwords=passwords, tokens=FakeTokens(),
                refresh_ttl=dt.timedelta(days=30), clock=clock)

"""Fixtures over the in-memory fakes of the catalog's ports (fakes.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest


# Loaded under names of their own: pytest's importlib mode puts no test directory on sys.path,
# and other components have a fakes.py too. Test modules import `catalog_unit_fakes`.
def _load(name: str, file: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(file))
    assert spec is not None and spec.loader is not None
    module = sys.modules[name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_load("catalog_fake_products", "fake_products.py")
fakes = _load("catalog_unit_fakes", "fakes.py")
_load("catalog_unit_steps", "steps.py")


@pytest.fixture
def state() -> fakes.FakeState:
    return fakes.FakeState()


@pytest.fixture
def tx(state: fakes.FakeState) -> fakes.FakeTx:
    return fakes.FakeTx(state)


@pytest.fixture
def store(state: fakes.FakeState) -> fakes.FakeStore:
    return fakes.FakeStore(state)


@pytest.fixture
def reader(state: fakes.FakeState) -> fakes.FakeProducts:
    return fakes.FakeProducts(state)

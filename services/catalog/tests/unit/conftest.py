"""Fixtures over the in-memory fakes of the catalog's ports (fakes.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

# Loaded under a name of its own (pytest's importlib mode puts no test directory on sys.path,
# and other components have a fakes.py too); test modules import it as `catalog_unit_fakes`.
_spec = importlib.util.spec_from_file_location("catalog_unit_fakes",
                                               Path(__file__).with_name("fakes.py"))
assert _spec is not None and _spec.loader is not None
fakes = sys.modules["catalog_unit_fakes"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fakes)


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

"""Unit fixtures: the use cases over the in-memory fakes of fakes.py (no database, no broker)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

from payments.ports import Deps


def _load_fakes() -> Any:
    # A unique module name: other components' tests may have a fakes.py of their own.
    name = "payments_unit_fakes"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("fakes.py"))
        assert spec is not None and spec.loader is not None
        sys.modules[name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]


fakes = _load_fakes()


@pytest.fixture
def store() -> Any:
    return fakes.FakeStore()


@pytest.fixture
def catalog() -> Any:
    return fakes.FakeCatalog()


@pytest.fixture
def provider() -> Any:
    return fakes.FakeProvider()


@pytest.fixture
def deps(store: Any, catalog: Any, provider: Any) -> Deps:
    return Deps(store=store, catalog=catalog, provider=provider, lease_seconds=30.0)

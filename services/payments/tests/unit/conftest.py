"""Unit fixtures: the use cases over the in-memory fakes of fakes.py (no database, no broker)."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from payments.ports import Deps

fakes = sys.modules["payments_unit_fakes"]  # loaded by ../conftest.py


@pytest.fixture
def store() -> Any:
    return fakes.FakeStore()


@pytest.fixture
def provider() -> Any:
    return fakes.FakeProvider()


@pytest.fixture
def deps(store: Any, catalog: Any, provider: Any) -> Deps:
    return Deps(store=store, catalog=catalog, provider=provider, lease_seconds=30.0)

"""Second pytest pass: monkey-patch first (as `nameko run` does), then run the `eventlet` tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import eventlet

eventlet.monkey_patch()
os.environ["SUITE_EVENTLET_PATCHED"] = "1"
# `python tests/eventlet_pytest.py` puts tests/ on sys.path, not the repository root that
# `python -m pytest` adds; the root conftest imports `tests.support`.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pytest  # noqa: E402

if __name__ == "__main__":
    sys.exit(pytest.main(["-m", "eventlet", "-p", "no:randomly", *sys.argv[1:]]))

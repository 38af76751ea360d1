"""Second pytest pass: monkey-patch first (as `nameko run` does), then run the `eventlet` tests."""

from __future__ import annotations

import os
import sys

import eventlet

eventlet.monkey_patch()
os.environ["SUITE_EVENTLET_PATCHED"] = "1"

import pytest  # noqa: E402

if __name__ == "__main__":
    sys.exit(pytest.main(["-m", "eventlet", "-p", "no:randomly", *sys.argv[1:]]))

"""The generated API documents are current, and the AsyncAPI one parses cleanly with the
AsyncAPI project's parser (docs/api/README.md)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "apidocs"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("script", ["asyncapi.py", "http_table.py"])
def test_the_committed_document_is_what_the_generator_writes(script: str):
    result = run(sys.executable, str(TOOLS / script), "--check")

    assert result.returncode == 0, result.stderr


def test_the_asyncapi_document_covers_every_event_and_public_rpc():
    from shared.contracts.events import CONTRACTS

    document = yaml.safe_load((ROOT / "docs" / "api" / "asyncapi.yaml").read_text())
    channels = document["channels"].values()
    published = {(c["bindings"]["amqp"]["exchange"]["name"], c["address"]) for c in channels
                 if c["address"] is not None}
    assert set(CONTRACTS) <= published
    assert {("nameko-rpc", call) for call in ("auth.get_user", "auth.verify_token",
            "catalog.get_product", "catalog.get_products", "payments.get_payment")} <= published
    headers = document["components"]["schemas"]["RpcHeaders"]["properties"]
    assert {"nameko.request_id", "nameko.traceparent", "nameko.authorization"} <= set(headers)
    assert "user_id" in str(document["components"]["messages"]["paymentSucceeded"])


@pytest.mark.skipif(not (TOOLS / "node_modules").is_dir() or shutil.which("node") is None,
                    reason="needs Node 20 and `npm ci` in tools/apidocs (.ci/run does both)")
def test_the_asyncapi_parser_accepts_the_document_without_warnings():
    result = run("node", "validate-asyncapi.mjs", str(ROOT / "docs" / "api" / "asyncapi.yaml"),
                 cwd=TOOLS)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid AsyncAPI 3.0.0" in result.stdout

"""`make env` / `make up`'s preflight (deploy/env/generate.py, check.py): a complete, fresh env
file; one-line refusals naming what is missing. The stack itself: tests/containers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.deploy.support import COMPOSE_ENV_EXAMPLE
from tests.support.infra import ROOT

CHECK = ROOT / "deploy/env/check.py"
GENERATE = ROOT / "deploy/env/generate.py"


def fake_bin(tmp_path: Path, *tools: str) -> str:
    """A PATH holding python3 and working stand-ins for the named Docker tools only."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "python3").symlink_to(sys.executable)
    for tool in tools:
        (bin_dir / tool).write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / tool).chmod(0o755)
    return str(bin_dir)


def check(env_file: Path, path: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(CHECK), str(env_file)], capture_output=True,
                          text=True, timeout=60, check=False,
                          env={"PATH": path, "HOME": os.environ.get("HOME", "/")})


def generate(tmp_path: Path) -> Path:
    out = tmp_path / "compose.env"
    subprocess.run([sys.executable, str(GENERATE), "--out", str(out)], check=True,
                   capture_output=True, timeout=60)
    return out


def test_a_generated_env_file_passes_and_picks_a_compose_command(tmp_path: Path) -> None:
    result = check(generate(tmp_path), fake_bin(tmp_path, "docker"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "docker compose"


def test_generated_secrets_are_fresh_private_and_never_overwritten(tmp_path: Path) -> None:
    first = generate(tmp_path)
    values = dict(line.split("=", 1) for line in first.read_text().splitlines()
                  if not line.startswith("#"))
    assert oct(first.stat().st_mode & 0o777) == "0o600"
    passwords = [v for k, v in values.items() if "PASSWORD" in k]
    assert len(passwords) == len(set(passwords)) >= 10
    assert all(len(p) == 32 and p.isalnum() for p in passwords)
    assert json.loads(values["AUTH_SIGNING_KEYS"])[0]["private_key"].startswith(
        "-----BEGIN PRIVATE KEY-----\n")
    again = subprocess.run([sys.executable, str(GENERATE), "--out", str(first)],
                           capture_output=True, text=True, timeout=60, check=False)
    assert again.returncode != 0 and "exists" in again.stderr
    assert first.read_text().splitlines()[2:] == [f"{k}={v}" for k, v in values.items()]


def test_refuses_in_one_line_a_missing_variable(tmp_path: Path) -> None:
    env_file = generate(tmp_path)
    kept = [line for line in env_file.read_text().splitlines()
            if not line.startswith("REDIS_PASSWORD=")]
    env_file.write_text("\n".join(kept) + "\n")
    result = check(env_file, fake_bin(tmp_path, "docker"))
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1 and "REDIS_PASSWORD is not set" in result.stderr


def test_refuses_the_example_placeholders(tmp_path: Path) -> None:
    result = check(COMPOSE_ENV_EXAMPLE, fake_bin(tmp_path, "docker"))
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1
    assert "POSTGRES_PASSWORD" in result.stderr and "placeholder" in result.stderr


def test_refuses_a_missing_env_file_saying_make_env(tmp_path: Path) -> None:
    result = check(tmp_path / "nope.env", fake_bin(tmp_path, "docker"))
    assert result.returncode != 0 and "make env" in result.stderr


def test_refuses_without_docker_saying_how_to_install_it(tmp_path: Path) -> None:
    result = check(generate(tmp_path), fake_bin(tmp_path))
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1
    assert "Docker is not installed" in result.stderr and "apt-get install" in result.stderr


def test_make_up_runs_the_preflight_first(tmp_path: Path) -> None:
    """Through make itself: no env file, no compose call, exit 2."""
    assert shutil.which("make")
    result = subprocess.run(["make", "-s", "up", f"COMPOSE_ENV={tmp_path / 'missing.env'}",
                             "PYTHON=" + sys.executable], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, check=False,
                            env={"PATH": fake_bin(tmp_path, "docker") + ":/usr/bin:/bin"})
    assert result.returncode != 0
    assert "missing.env is missing" in result.stderr

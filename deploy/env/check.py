#!/usr/bin/env python3
"""`make up`'s preflight: Docker and compose are installed, and the env file sets every secret
docker-compose.yml requires, none left at a placeholder. One line on stderr and exit 2 if not.

    python3 deploy/env/check.py deploy/env/compose.env     # prints the compose command to use
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
INSTALL = ("install Docker Engine with its compose plugin (https://docs.docker.com/engine/install/)"
           ", or on Debian/Ubuntu: sudo apt-get install -y docker.io docker-compose")


def refuse(message: str) -> None:
    sys.exit(f"make up: {message}")


def compose_command() -> str:
    if shutil.which("docker") is None:
        refuse(f"Docker is not installed: {INSTALL}")
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    if plugin.returncode == 0:
        return "docker compose"
    if shutil.which("docker-compose"):
        return "docker-compose"
    refuse(f"Docker Compose is not installed: {INSTALL}")
    return ""


def read_env(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            found[key.strip()] = value.strip()
    return found


def placeholder(value: str) -> bool:
    return value.startswith("example-") or "CHANGE-ME" in value


def check_env(path: Path) -> None:
    if not path.is_file():
        refuse(f"{path} is missing: create it with fresh passwords: make env")
    env = read_env(path)
    required = re.findall(r"\$\{(\w+):\?", COMPOSE_FILE.read_text())
    for name in dict.fromkeys(required):
        if not env.get(name):
            refuse(f"{name} is not set in {path} (make env writes a complete file)")
        if placeholder(env[name]):
            refuse(f"{name} in {path} is still the example placeholder: set a real secret")
    for name, value in env.items():
        if "PASSWORD" in name and value and placeholder(value):
            refuse(f"{name} in {path} is still the example placeholder: set a real secret")


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: check.py ENV_FILE")
    command = compose_command()
    check_env(Path(sys.argv[1]))
    print(command)


if __name__ == "__main__":
    main()

"""deploy/Dockerfile and .dockerignore, checked without a Docker engine: pinned base, non-root,
pinned installs, a HEALTHCHECK, no secret, and an image that holds every file the compose and
Kubernetes commands read (the COPY instructions replayed over the repository through the
.dockerignore rules)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.deploy.support import SERVICES, compose_config, dockerfile, dockerignored, kustomize
from tests.support.infra import ROOT

PACKAGES = ("shared", *(f"services/{s}" for s in SERVICES), "gateway")
SECRET_WORDS = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE|://[^/\s:@]+:[^/\s@]+@", re.I)


def repo_files(source: str) -> list[str]:
    path = ROOT / source
    if path.is_file():
        return [source.rstrip("/")]
    return [str(p.relative_to(ROOT)) for p in sorted(path.rglob("*")) if p.is_file()]


def copied(stage: list[tuple[str, str]]) -> set[str]:
    """Files a stage's COPY instructions take from the build context."""
    files: set[str] = set()
    for instruction, args in stage:
        if instruction != "COPY" or "--from=" in args or args.startswith("<<"):
            continue
        sources = [a for a in args.split() if not a.startswith("--")][:-1]
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
            kept = [f for f in repo_files(source) if not dockerignored(f)]
            assert kept, f"COPY {source}: everything is excluded by .dockerignore"
            files.update(kept)
    return files


def test_base_is_a_pinned_python_matching_the_projects() -> None:
    args = dockerfile().all("ARG")
    assert "PYTHON_IMAGE=python:3.11-slim-bookworm" in args
    for source in dockerfile().all("FROM"):
        assert source.split()[0] == "${PYTHON_IMAGE}", source
    for package in PACKAGES:
        project = tomllib.loads((ROOT / package / "pyproject.toml").read_text())["project"]
        assert project["requires-python"] == ">=3.11,<3.12", package
    assert sys.version_info[:2] == (3, 11)


def test_runs_as_a_fixed_non_root_user_the_manifests_expect() -> None:
    users = [args for ins, args in dockerfile().runtime if ins == "USER"]
    assert users == ["10001:10001"]
    for overlay in ("dev", "prod"):
        for obj in kustomize(overlay):
            spec = obj.get("spec", {}).get("template", {}).get("spec", {})
            images = [c["image"] for c in spec.get("containers", [])]
            if any("commerce-suite" in image for image in images):
                context = spec["securityContext"]
                assert (context["runAsUser"], context["runAsGroup"]) == (10001, 10001)


def test_has_a_healthcheck_for_every_component_and_a_default_command() -> None:
    runtime = dict(dockerfile().runtime)
    assert '"/app/deploy/probes/ping.py", "auto"]' in runtime["HEALTHCHECK"]
    assert runtime["CMD"] == '["python", "-m", "gateway"]'
    assert runtime["WORKDIR"] == "/app"


def test_every_install_is_constrained_and_installs_every_package() -> None:
    installs = [args for args in dockerfile().all("RUN") if "pip install" in args]
    assert installs
    for args in installs:
        assert "-c constraints.txt" in args, args
    assert any(all(f"./{p}" in args for p in PACKAGES) for args in installs)


def test_runtime_requirements_are_all_pinned_by_the_constraints() -> None:
    script = "deploy/image/requirements.py"
    assert any(script in args for args in dockerfile().all("RUN"))
    listed = subprocess.run([sys.executable, script], cwd=ROOT, capture_output=True,
                            text=True, check=True, timeout=60).stdout.split()
    assert listed
    pins = {line.split("==")[0].lower().replace("_", "-")
            for line in (ROOT / "constraints.txt").read_text().splitlines() if "==" in line}
    for requirement in listed:
        name = re.split(r"[<>=!~ ;\[]", requirement)[0].lower().replace("_", "-")
        # setuptools is a build tool pip freeze leaves out; pyproject bounds it (<82).
        assert name in pins or name == "setuptools", requirement


def test_builds_with_either_builder_and_pulls_no_frontend() -> None:
    """No `# syntax=` line (BuildKit would pull docker/dockerfile) and no heredoc (the classic
    builder cannot parse one): tests/containers builds it both ways for real."""
    text = (ROOT / "deploy/Dockerfile").read_text()
    assert not re.search(r"^#\s*syntax\s*=", text, re.I | re.M)
    assert "<<" not in text


def test_no_secret_is_baked_in() -> None:
    for instruction in ("ENV", "ARG", "LABEL"):
        for args in dockerfile().all(instruction):
            assert not SECRET_WORDS.search(args), f"{instruction} {args}"


def test_the_build_context_is_an_allowlist() -> None:
    for path in (".venv/bin/python", ".git/config", "deploy/env/compose.env",
                 "deploy/env/compose.env.example", "docs/deploy.md", "bench/run.py",
                 "services/catalog/tests/unit/test_x.py", "shared/shared/__pycache__/x.pyc",
                 "docker-compose.yml", "deploy/k8s/base/kustomization.yaml"):
        assert dockerignored(path), path
    for path in ("constraints.txt", "shared/pyproject.toml", "gateway/gateway/app.py",
                 "services/auth/alembic.ini", "deploy/probes/ping.py",
                 "deploy/rabbitmq/permissions.json"):
        assert not dockerignored(path), path


def _referenced_files(argv: list[str]) -> list[str]:
    found = []
    for arg in argv:
        relative = arg[len("/app/"):] if arg.startswith("/app/") else arg
        if "/" in relative and (ROOT / relative).is_file():
            found.append(relative)
    return found


def test_the_image_holds_every_file_the_commands_read() -> None:
    stages = dockerfile().stages
    for stage in stages[:-1]:
        copied(stage)  # the build stage's sources exist and survive .dockerignore
    image = copied(stages[-1])
    argvs = [list(s["command"]) for s in compose_config()["services"].values()
             if isinstance(s.get("command"), list)]
    argvs += [list(s["healthcheck"]["test"][1:]) for s in compose_config()["services"].values()
              if s.get("healthcheck", {}).get("test")]
    for obj in kustomize("dev"):
        spec = obj.get("spec", {}).get("template", {}).get("spec", {})
        for container in spec.get("initContainers", []) + spec.get("containers", []):
            argvs.append(container.get("command", []))
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                argvs.append(container.get(probe, {}).get("exec", {}).get("command", []))
    needed = {f for argv in argvs for f in _referenced_files(argv)}
    for service in SERVICES:
        alembic = Path("services", service, "alembic")
        needed |= {str(p.relative_to(ROOT)) for p in (ROOT / alembic).rglob("*.py")
                   if "__pycache__" not in p.parts}
    needed.add("deploy/rabbitmq/permissions.json")
    assert "deploy/probes/ping.py" in needed and "services/auth/alembic.ini" in needed
    assert sorted(needed - image) == []
    assert not [f for f in image if "/tests/" in f or "__pycache__" in f]

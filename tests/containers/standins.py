"""Stand-in images (tests only, see standins/README.md) under the exact tags the deployment
names, built from Debian packages on a debootstrap base when absent from the engine's
persistent data root. An image is rebuilt when its directory (or the base) changes: each
carries a label with the hash of what built it."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from tests.containers.engine import Engine, docker_cli
from tests.support.infra import ROOT

HERE = Path(__file__).parent / "standins"
BASE = "suite-standin-base:bookworm"
LABEL = "org.commerce-suite.standin"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
PROFILE = "observability"


def required_tags() -> dict[str, str]:
    """{third-party tag: stand-in directory under standins/, the tag's name}: every image the
    compose stack runs with the `observability` profile (the test brings it up; opt-in profiles
    such as loadtest are not), and the build's base."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    tags = {spec["image"] for spec in compose["services"].values()
            if "image" in spec and "${" not in spec["image"]
            and set(spec.get("profiles", [PROFILE])) & {PROFILE}}
    dockerfile = (ROOT / "deploy/Dockerfile").read_text()
    tags |= set(re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, re.M))
    found = {}
    for tag in tags:
        directory = tag.rsplit(":", 1)[0]
        assert (HERE / directory / "Dockerfile").exists(), f"{tag}: no stand-in in {directory}"
        found[tag] = directory
    return found


def apt_mirror() -> str:
    """The Debian mirror this machine's apt uses (deb822 or one-line sources)."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for source in sources:
        text = source.read_text(errors="replace") if source.is_file() else ""
        match = re.search(r"^(?:URIs:\s*|deb\s+(?:\[[^]]*\]\s+)?)(\S+/debian)/?\s", text, re.M)
        if match:
            return match.group(1)
    return DEFAULT_MIRROR


def _digest(*parts: bytes) -> str:
    return hashlib.sha256(b"\0".join(parts)).hexdigest()[:16]


def _label(engine: Engine, image: str) -> str:
    result = engine.run("image", "inspect", "-f", f'{{{{ index .Config.Labels "{LABEL}" }}}}',
                        image, check=False)
    return result.stdout.strip() if result.returncode == 0 else ""


def build_base(engine: Engine) -> None:
    """debootstrap (minbase) + the host's CA bundle (TLS to PyPI is intercepted here)."""
    wanted = _digest(HOST_CA.read_bytes(), apt_mirror().encode())
    if _label(engine, BASE) == wanted:
        return
    assert shutil.which("debootstrap"), "apt-get install -y debootstrap"
    with tempfile.TemporaryDirectory(prefix="suite-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs),
                        apt_mirror()], check=True, capture_output=True, timeout=900)
        (rootfs / "etc/ssl/certs").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(HOST_CA, rootfs / "etc/ssl/certs/ca-certificates.crt")
        shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
        (rootfs / "var/cache/apt/archives/partial").mkdir(parents=True)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(
            [docker_cli(), "import", "--change", f"LABEL {LABEL}={wanted}",
             "--change", "CMD [\"bash\"]", "-", BASE],
            stdin=tar.stdout, env=engine.env(), capture_output=True, text=True, timeout=600)
        tar.wait()
        assert imported.returncode == 0, imported.stderr


def build_standin(engine: Engine, tag: str, directory: str, base_id: str) -> None:
    context = HERE / directory
    files = sorted(p for p in context.rglob("*") if p.is_file())
    wanted = _digest(base_id.encode(), *(p.name.encode() + p.read_bytes() for p in files))
    if _label(engine, tag) == wanted:
        return
    engine.run("build", "--force-rm", "--label", f"{LABEL}={wanted}", "-t", tag, str(context),
               timeout=900, DOCKER_BUILDKIT="0")


def _timed(engine: Engine, tag: str, directory: str, base_id: str) -> float:
    started = time.monotonic()
    build_standin(engine, tag, directory, base_id)
    return round(time.monotonic() - started, 1)


def ensure_standins(engine: Engine) -> dict[str, float]:
    """Build what is missing, side by side (mostly apt downloads); returns seconds spent per
    image (about 0 when cached)."""
    started = time.monotonic()
    build_base(engine)
    timings = {BASE: round(time.monotonic() - started, 1)}
    base_id = engine.run("image", "inspect", "-f", "{{.Id}}", BASE).stdout.strip()
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {tag: pool.submit(_timed, engine, tag, directory, base_id)
                   for tag, directory in sorted(required_tags().items())}
        timings.update({tag: future.result() for tag, future in futures.items()})
    return timings

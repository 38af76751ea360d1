"""What every benchmark needs: a throwaway vhost and database, real suite processes, CPU clocks.

Everything created here is removed on the way out, even on failure or Ctrl-C/SIGTERM: each child
runs in its own process group (stopped with SIGTERM, then SIGKILL), the vhost and the database
are dropped in `finally` blocks.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "deploy" / "local"))
import broker_users  # noqa: E402

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"
BROKER_HOST = os.environ.get("BENCH_AMQP_HOST", "127.0.0.1:5672")
PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgresql+psycopg2://postgres@127.0.0.1:5432")
CLK_TCK = os.sysconf("SC_CLK_TCK")
GRACE_SECONDS = 8.0


class BenchError(RuntimeError):
    """A benchmark could not run (missing tool, process died, not ready in time)."""


def guarded(work: Callable[[], dict[str, Any]]) -> dict[str, Any] | int:
    """Run a bench's measuring part; a BenchError or Ctrl-C becomes its printed exit code."""
    try:
        return work()
    except BenchError as exc:
        print(f"bench: cannot run: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted; everything started was stopped", file=sys.stderr)
        return 130


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def on_signal_raise() -> None:
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt so every `finally` cleans up."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


# --- throwaway broker vhost and databases -------------------------------------------------

def _rabbitmqctl(*args: str) -> str:
    result = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True,
                            timeout=60, check=False)
    if result.returncode != 0:
        raise BenchError(f"rabbitmqctl {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


@contextlib.contextmanager
def vhost(prefix: str = "bench") -> Iterator[str]:
    """A new vhost for the run; yields its AMQP URI and deletes it afterwards."""
    name = unique(prefix)
    _rabbitmqctl("add_vhost", name)
    try:
        _rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield f"amqp://guest:guest@{BROKER_HOST}/{name}"
    finally:
        _rabbitmqctl("delete_vhost", name)


def _server_engine() -> Engine:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    return create_engine(make_url(PG_SERVER).set(database="postgres"),
                         isolation_level="AUTOCOMMIT")


def _execute(sql: str) -> None:
    from sqlalchemy import text

    engine = _server_engine()
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


@contextlib.contextmanager
def database(service: str, prefix: str = "bench", root: Path = ROOT,
             python: str = sys.executable) -> Iterator[str]:
    """A new database for `service`, migrated by the code under `root` (another commit's, when
    comparing) with `python`; yields its URL and drops it afterwards."""
    from sqlalchemy.engine import make_url

    name = f"{unique(prefix)}_{service}"
    _execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)
        env = {**os.environ, f"{service.upper()}_DATABASE_URL": url}
        ini = root / "services" / service / "alembic.ini"
        subprocess.run([python, "-m", "alembic", "-c", str(ini), "upgrade", "head"],
                       env=env, check=True, capture_output=True, timeout=120)
        yield url
    finally:
        _execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def databases(services: tuple[str, ...], prefix: str = "bench", root: Path = ROOT,
              python: str = sys.executable) -> Iterator[dict[str, str]]:
    """`database()` for several services at once, created and migrated side by side."""
    with contextlib.ExitStack() as stack, ThreadPoolExecutor(len(services)) as pool:
        futures = {service: pool.submit(stack.enter_context,
                                        database(service, prefix, root, python))
                   for service in services}
        # Every one finishes before any error is raised, so the stack drops all that exist.
        wait(futures.values())
        yield {service: future.result() for service, future in futures.items()}


def suite_env(amqp_uri: str, database_urls: dict[str, str]) -> dict[str, str]:
    """AMQP_URI is the harness's own (guest); each component gets its own broker user, as in
    `make run` (`<COMPONENT>_AMQP_URI`, handed over by `Processes.start`)."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_AMQP_URI")}
    broker_users.provision(env, amqp_uri)
    env.update({"AMQP_URI": amqp_uri, "RATE_LIMIT_ENABLED": "false", "PYTHONUNBUFFERED": "1",
                "PYTHONWARNINGS": "ignore::Warning:nameko.cli.commands"})
    for service, url in database_urls.items():
        env[f"{service.upper()}_DATABASE_URL"] = url
    return env


# --- processes ----------------------------------------------------------------------------

class Processes:
    """Children in their own process groups, logs in bench/results/logs/<run>/, all stopped."""

    def __init__(self, run_name: str) -> None:
        self.log_dir = RESULTS / "logs" / run_name
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    def start(self, name: str, argv: list[str], env: dict[str, str],
              cwd: Path = ROOT) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("wb")
        self._logs.append(log)
        env = broker_users.component_env(env, name)  # a service runs as its own user
        child = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        self.children[name] = child
        return child

    def check_alive(self) -> None:
        for name, child in self.children.items():
            if child.poll() is not None:
                raise BenchError(f"{name} exited with {child.returncode}; "
                                 f"see {self.log_dir / (name + '.log')}")

    def stop_all(self) -> None:
        for child in self.children.values():
            _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for child in self.children.values():
            try:
                child.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(child, signal.SIGKILL)
                child.wait()
        for log in self._logs:
            log.close()
        self.children.clear()
        self._logs.clear()


def _signal_group(child: subprocess.Popen[bytes], signum: int) -> None:
    if child.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signum)


def nameko_service(service: str) -> list[str]:
    return [str(BIN / "nameko"), "run", "--config",
            str(ROOT / "services" / service / "config.yaml"),
            f"{service}.service:{service.capitalize()}Service"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http_ok(url: str, processes: Processes, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        processes.check_alive()
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last = type(exc).__name__
        time.sleep(0.3)
    raise BenchError(f"{url} not ready within {timeout:g} s (last: {last})")


# --- tools and clocks ---------------------------------------------------------------------

def ensure_wrk() -> str:
    """wrk from Debian's package; installed with apt-get (as root) when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("bench: wrk not found; installing it with apt-get (Debian package 'wrk')", flush=True)
    if os.geteuid() != 0:
        raise BenchError("wrk is missing and this is not root: run "
                         "'sudo apt-get update && sudo apt-get install -y wrk' and retry")
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        result = subprocess.run(argv, capture_output=True, text=True, check=False,
                                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        if result.returncode != 0:
            raise BenchError(f"could not install wrk ({' '.join(argv)} failed): "
                             f"{result.stderr.strip()[-400:]}; install it by hand and retry")
    found = shutil.which("wrk")
    if not found:
        raise BenchError("apt-get installed wrk but it is not on PATH")
    return found


def cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of one process (0.0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy_seconds() -> float:
    """CPU seconds spent not idle by the whole machine, all cores together."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLK_TCK


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def broker_pid() -> int | None:
    """The RabbitMQ node's pid (read-only use: its CPU clock), if this machine runs one."""
    return pid_of("beam.smp")


def pid_of(command: str) -> int | None:
    """The first process whose command name is `command` (read-only use: its CPU clock)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == command:
                    return int(entry.name)
    return None


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": sys.version.split()[0]}
    for package in ("nameko", "aio-pika", "aiormq", "pika", "uvicorn", "uvloop", "fastapi",
                    "kombu", "eventlet"):
        with contextlib.suppress(PackageNotFoundError):
            found[package] = version(package)
    with contextlib.suppress(BenchError, OSError, subprocess.SubprocessError):
        found["rabbitmq"] = _rabbitmqctl("version")
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
        found["wrk"] = (out.stdout or out.stderr).split()[1]
    return found


def source_state() -> str:
    """The commit measured, and whether the code under test differed from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=False).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "gateway/gateway", "shared/shared",
                "services/catalog/catalog", "bench")
    return f"{commit} (with uncommitted changes)" if dirty else commit


def machine() -> dict[str, str]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError):
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {"nproc": str(os.cpu_count()), "cpu": model, "memory": f"{mem_kb / 2**20:.0f} GiB",
            "kernel": os.uname().release}

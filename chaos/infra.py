"""A private RabbitMQ node and a private PostgreSQL cluster, in a temp dir, on free ports.

The nemesis kills these, so they must never be the machine's shared servers: the node has its
own name, ports, Mnesia dir, cookie (HOME) and config files (the machine's /etc/rabbitmq ones
would make it listen on 5672), and the cluster its own data dir and port. Both run in the
foreground as children of this process, each in its own process group.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import subprocess
from pathlib import Path

from chaos.procs import free_port, port_open, signal_group, spawn, terminate, wait_for

RABBIT_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"  # the real script, not the su wrapper
PG_BIN = Path("/usr/lib/postgresql/15/bin")
START_TIMEOUT = 120.0


class PrivateRabbit:
    def __init__(self, base: Path, name: str = "rabbit") -> None:
        self.dir = base / name
        self.dir.mkdir(parents=True)
        self.port, self.dist_port = free_port(), free_port()
        self.node = f"chaos-{secrets.token_hex(4)}@localhost"
        self.process: subprocess.Popen[bytes] | None = None
        (self.dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.port}\nloopback_users = none\n")
        (self.dir / "rabbitmq-env.conf").write_text("")
        (self.dir / "enabled_plugins").write_text("[].\n")

    @property
    def uri(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def ctl_env(self) -> dict[str, str]:
        """What rabbitmqctl needs to reach this node: its name and its cookie (HOME)."""
        return {"HOME": str(self.dir), "RABBITMQ_NODENAME": self.node,
                "RABBITMQCTL": str(Path(RABBIT_SERVER).with_name("rabbitmqctl")),
                "ERL_EPMD_ADDRESS": "127.0.0.1"}

    def _env(self) -> dict[str, str]:
        d = self.dir
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(d),
                "LANG": "C.UTF-8", "RABBITMQ_NODENAME": self.node,
                "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_MNESIA_BASE": str(d / "mnesia"), "RABBITMQ_LOG_BASE": str(d / "log"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
                "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
                "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
                "RABBITMQ_PID_FILE": str(d / "pid"), "ERL_EPMD_ADDRESS": "127.0.0.1",
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS":
                    "-kernel inet_dist_use_interface {127,0,0,1}"}

    def start(self) -> float:
        """Start (or restart on the same data) and wait for the AMQP port; returns seconds."""
        self.process = spawn([RABBIT_SERVER], self._env(), self.dir / "server.log", cwd=self.dir)
        return wait_for(lambda: self._alive() and port_open(self.port), START_TIMEOUT,
                        "private RabbitMQ", 0.3)

    def _alive(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            tail = (self.dir / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"private RabbitMQ exited:\n{tail}")
        return True

    def kill9(self) -> None:
        signal_group(self.process, signal.SIGKILL)
        if self.process is not None:
            self.process.wait(10)

    def stop(self) -> None:
        terminate(self.process, grace=15)


class PrivatePostgres:
    """initdb refuses root: as root the cluster belongs to the `postgres` OS user."""

    def __init__(self, base: Path) -> None:
        self.dir = base / "pg"
        self.dir.mkdir(parents=True)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
            os.chmod(base, 0o755)

    def server_url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        subprocess.run([*prefix, str(PG_BIN / "initdb"), "-D", str(self.dir / "data"),
                        "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"],
                       check=True, capture_output=True, timeout=120, cwd=self.dir)

    def start(self) -> float:
        argv = [str(PG_BIN / "postgres"), "-D", str(self.dir / "data"), "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.dir}",
                "-c", "max_connections=300", "-c", "shared_buffers=64MB",
                "-c", "synchronous_commit=on", "-c", "fsync=on"]
        log = self.dir / "server.log"
        extra = {"user": self.user, "group": self.user, "extra_groups": []} if self.user else {}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        if not log.exists() and self.user:
            log.touch()
            shutil.chown(log, self.user, self.user)
        self.process = spawn(argv, env, log, cwd=self.dir, **extra)
        return wait_for(self._ready, START_TIMEOUT, "private PostgreSQL", 0.2)

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            tail = (self.dir / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"private PostgreSQL exited:\n{tail}")
        result = subprocess.run([str(PG_BIN / "pg_isready"), "-q", "-h", "127.0.0.1", "-p",
                                 str(self.port), "-t", "2"], check=False)
        return result.returncode == 0

    def stop_immediate(self) -> None:
        """What `pg_ctl stop -m immediate` does: SIGQUIT to the postmaster, no checkpoint."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGQUIT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                signal_group(self.process, signal.SIGKILL)
                self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGINT)  # fast shutdown
        terminate(self.process, grace=15)

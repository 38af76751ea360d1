"""`make run` and the tests: one RabbitMQ user per component on the local broker.

The users and their permissions (configure/write/read and topic permissions) are those of
deploy/rabbitmq/permissions.json, applied to the vhost of AMQP_URI in one
`rabbitmqctl import_definitions` (a few seconds; one rabbitmqctl call per setting took a
minute on a busy machine). Passwords are random, made once per machine and kept in
BUS_CREDENTIALS_FILE (default ~/.local/state/commerce-suite/bus-users.json, mode 0600), so every
checkout and test run on the machine agrees with the broker. Each component then gets
`<COMPONENT>_AMQP_URI`; `component_env` gives a child process its own as AMQP_URI.
Nothing here runs where `<COMPONENT>_AMQP_URI` are set already (compose, k8s, an operator).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

PERMISSIONS = Path(__file__).resolve().parents[1] / "rabbitmq" / "permissions.json"
DEFAULT_CREDENTIALS = Path.home() / ".local" / "state" / "commerce-suite" / "bus-users.json"


def spec() -> dict[str, Any]:
    return dict(json.loads(PERMISSIONS.read_text()))


def components() -> list[str]:
    return list(spec()["users"])


def passwords(env: dict[str, str]) -> dict[str, str]:
    """component -> password: `<COMPONENT>_AMQP_PASSWORD`, else the machine's stored one."""
    path = Path(env.get("BUS_CREDENTIALS_FILE") or DEFAULT_CREDENTIALS)
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):  # the first run on the machine writes it
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({name: secrets.token_urlsafe(24) for name in components()}, out)
    stored: dict[str, str] = json.loads(path.read_text())
    return {name: env.get(f"{name.upper()}_AMQP_PASSWORD") or stored[name]
            for name in components()}


def _hash(password: str) -> str:
    # RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password)).
    salt = secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def definitions(vhost: str, secrets_by_user: dict[str, str]) -> dict[str, Any]:
    users = spec()["users"]
    return {
        "vhosts": [{"name": vhost}],
        "users": [{"name": name, "password_hash": _hash(secrets_by_user[name]), "tags": "",
                   "hashing_algorithm": "rabbit_password_hashing_sha256"} for name in users],
        "permissions": [{"user": name, "vhost": vhost, **{k: rules[k] for k in
                                                          ("configure", "write", "read")}}
                        for name, rules in users.items()],
        "topic_permissions": [{"user": name, "vhost": vhost, "exchange": exchange, **topic}
                              for name, rules in users.items()
                              for exchange, topic in rules.get("topic", {}).items()],
    }


def ensure(vhost: str, env: dict[str, str], ctl_env: dict[str, str] | None = None
           ) -> dict[str, str]:
    """Create (or update) every component's user on `vhost`; returns component -> password.
    `ctl_env` points rabbitmqctl at another node (RABBITMQ_NODENAME, HOME for its cookie,
    RABBITMQCTL: the script itself, where the packaged wrapper would reset HOME)."""
    secrets_by_user = passwords(env)
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump(definitions(vhost, secrets_by_user), file)
        file.flush()
        os.chmod(file.name, 0o644)  # rabbitmqctl may read it as the rabbitmq user
        _ctl(["import_definitions", file.name], ctl_env)
    return secrets_by_user


def _ctl(args: list[str], ctl_env: dict[str, str] | None) -> str:
    ctl = (ctl_env or {}).get("RABBITMQCTL", "rabbitmqctl")
    result = subprocess.run([ctl, "-q", *args], capture_output=True, text=True,
                            timeout=120, check=False, env={**os.environ, **(ctl_env or {})})
    if result.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {args[0]} failed: {result.stderr.strip()}")
    return result.stdout


def drop_old_retry_queues(vhost: str, ctl_env: dict[str, str] | None = None) -> None:
    """Retry queues made before ADR 0013 dead-letter through the default exchange; RabbitMQ
    refuses to redeclare them with `suite.requeue`. Empty ones are deleted (a non-empty one
    still holds a delayed retry: say so and stop rather than lose it)."""
    listed = json.loads(_ctl(["list_queues", "-p", vhost, "name", "arguments", "messages",
                              "--formatter", "json"], ctl_env) or "[]")
    for queue in listed:
        arguments = {arg[0]: arg[-1] for arg in queue.get("arguments") or []}
        if not queue["name"].endswith(".retry") or arguments.get("x-dead-letter-exchange") != "":
            continue
        if queue.get("messages"):
            raise RuntimeError(f"{queue['name']} on vhost {vhost} still holds delayed retries; "
                               "let it drain, then run again")
        _ctl(["delete_queue", "-p", vhost, queue["name"]], ctl_env)


def component_uri(amqp_uri: str, user: str, password: str) -> str:
    parts = urlsplit(amqp_uri)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def with_port(amqp_uri: str, port: int) -> str:
    """The same user and vhost through another port (e.g. a fault-injecting proxy)."""
    parts = urlsplit(amqp_uri)
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit(":", 1)[0] + f":{port}"))


def vhost_of(amqp_uri: str) -> str:
    path = urlsplit(amqp_uri).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def provision(env: dict[str, str], amqp_uri: str, ctl_env: dict[str, str] | None = None
              ) -> None:
    """Sets `<COMPONENT>_AMQP_URI` in `env` for every component that has none yet."""
    missing = [name for name in components() if not env.get(f"{name.upper()}_AMQP_URI")]
    if not missing:
        return
    secrets_by_user = ensure(vhost_of(amqp_uri), env, ctl_env)
    drop_old_retry_queues(vhost_of(amqp_uri), ctl_env)
    for name in missing:
        env[f"{name.upper()}_AMQP_URI"] = component_uri(amqp_uri, name, secrets_by_user[name])


def component_env(env: dict[str, str], component: str) -> dict[str, str]:
    """The environment of one component's process: its own broker identity as AMQP_URI."""
    own = env.get(f"{component.upper()}_AMQP_URI")
    return {**env, "AMQP_URI": own} if own else env

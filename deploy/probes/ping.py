"""Health probes for the container image: exit 0 when healthy, 1 (with the reason) when not.

  ping.py service <svc> [--local-only] [--pid PID]   a nameko service (no HTTP port)
  ping.py gateway [--live]                           the HTTP gateway
  ping.py auto                                       whichever component this container runs

`service`: (1) pod-local: this container's nameko process holds an established TCP connection to
the broker; (2) unless --local-only, end to end: `<svc>.ping` answers over nameko's RPC protocol,
spoken here with pika and the service's own AMQP credentials (a reply queue
`rpc.reply-<svc>-probe-<uuid>` bound on `nameko-rpc`, which the service's permissions allow).
The RPC reply may come from ANY replica (they share `rpc-<svc>`), so only (1) says anything about
this pod: liveness uses --local-only, readiness both.

`gateway`: ready when /readyz says the gateway's own broker connection is up, even while a
service is down (503): every gateway pod sees the same services, so taking them all out of the
load balancer would turn one service's outage into a whole-API outage. --live: /healthz only.

Standalone on purpose (stdlib + pika): it must not depend on the suite's own code.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"
RPC_EXCHANGE = "nameko-rpc"
ESTABLISHED = "01"


class Unhealthy(Exception):
    """The reason a probe fails."""


def cmdlines() -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                raw = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            found[int(entry.name)] = raw.decode(errors="replace").split("\0")[:-1]
    return found


def service_pids(service: str) -> list[int]:
    target = f"{service}.service:"
    return [pid for pid, argv in cmdlines().items()
            if any(a.endswith("nameko") for a in argv[:2]) and "run" in argv
            and any(a.startswith(target) for a in argv)]


def broker_port(amqp_uri: str) -> int:
    parts = urlsplit(amqp_uri)
    return parts.port or (5671 if parts.scheme == "amqps" else 5672)


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def established_to(port: int, pid: int) -> bool:
    inodes = socket_inodes(pid)
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[3] == ESTABLISHED and fields[9] in inodes:
                return True
    return False


def check_local(service: str, amqp_uri: str, pid: int | None) -> None:
    pids = [pid] if pid else service_pids(service)
    if not pids:
        raise Unhealthy(f"no `nameko run ... {service}.service:...` process here")
    port = broker_port(amqp_uri)
    if not any(established_to(port, p) for p in pids):
        raise Unhealthy(f"{service} (pid {pids}) has no connection to the broker port {port}")


def check_rpc(service: str, amqp_uri: str, timeout: float) -> None:
    import pika  # a runtime dependency of the image; imported late so `--help` needs nothing

    params = pika.URLParameters(amqp_uri)
    params.socket_timeout = params.blocked_connection_timeout = params.stack_timeout = timeout
    params.connection_attempts = 1
    deadline = time.monotonic() + timeout
    try:
        connection = pika.BlockingConnection(params)
    except pika.exceptions.AMQPError as exc:
        raise Unhealthy(f"broker unreachable: {type(exc).__name__}") from None
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        reply_to = f"{service}-probe-{uuid.uuid4().hex}"
        queue = f"rpc.reply-{reply_to}"
        channel.queue_declare(queue, exclusive=True, auto_delete=True)
        channel.queue_bind(queue, RPC_EXCHANGE, routing_key=reply_to)
        correlation_id = str(uuid.uuid4())
        properties = pika.BasicProperties(
            content_type="application/json", content_encoding="utf-8", delivery_mode=1,
            correlation_id=correlation_id, reply_to=reply_to, expiration=str(int(timeout * 1000)))
        try:
            channel.basic_publish(RPC_EXCHANGE, f"{service}.ping", b'{"args": [], "kwargs": {}}',
                                  properties, mandatory=True)
        except pika.exceptions.UnroutableError:
            raise Unhealthy(f"no {service} instance consumes rpc-{service}") from None
        for _method, props, body in channel.consume(
                queue, auto_ack=True, inactivity_timeout=max(0.1, deadline - time.monotonic())):
            if props is None:
                raise Unhealthy(f"{service}.ping did not answer within {timeout:g} s")
            if props.correlation_id == correlation_id:
                reply = json.loads(body)
                if reply.get("error"):
                    raise Unhealthy(f"{service}.ping failed: {reply['error']}")
                return
    except pika.exceptions.AMQPError as exc:
        raise Unhealthy(f"RPC ping failed: {type(exc).__name__}: {exc}") from None
    finally:
        if connection.is_open:
            connection.close()


def check_gateway(live: bool, timeout: float) -> None:
    port = int(os.environ.get("GATEWAY_PORT", "8000"))
    path = "/healthz" if live else "/readyz"
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as reply:
            body = json.loads(reply.read() or b"{}")
    except urllib.error.HTTPError as error:
        if live or error.code != 503:
            raise Unhealthy(f"{path} answered {error.code}") from None
        body = json.loads(error.read() or b"{}")
    except (OSError, ValueError) as exc:
        raise Unhealthy(f"{path} unreachable: {exc}") from None
    if not live and body.get("broker") != "up":
        raise Unhealthy(f"the gateway has no broker connection: {body}")


def check_auto(timeout: float) -> None:
    """The image's HEALTHCHECK: find out from the running processes what this container is."""
    for argv in cmdlines().values():
        if argv[1:3] == ["-m", "gateway"]:
            return check_gateway(live=False, timeout=timeout)
        for arg in argv:
            if arg.endswith("Service") and ".service:" in arg:
                service = arg.split(".service:")[0]
                amqp_uri = os.environ.get("AMQP_URI", DEFAULT_AMQP_URI)
                check_local(service, amqp_uri, None)
                return check_rpc(service, amqp_uri, timeout)
    return None  # a one-shot step (migration, provisioning): nothing long-running to check


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timeout", type=float, default=3.0)
    sub = parser.add_subparsers(dest="component", required=True)
    svc = sub.add_parser("service")
    svc.add_argument("name")
    svc.add_argument("--local-only", action="store_true")
    svc.add_argument("--pid", type=int, default=None)
    sub.add_parser("gateway").add_argument("--live", action="store_true")
    sub.add_parser("auto")
    args = parser.parse_args(argv)
    try:
        if args.component == "service":
            amqp_uri = os.environ.get("AMQP_URI", DEFAULT_AMQP_URI)
            check_local(args.name, amqp_uri, args.pid)
            if not args.local_only:
                check_rpc(args.name, amqp_uri, args.timeout)
        elif args.component == "gateway":
            check_gateway(args.live, args.timeout)
        else:
            check_auto(args.timeout)
    except Unhealthy as reason:
        print(f"unhealthy: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

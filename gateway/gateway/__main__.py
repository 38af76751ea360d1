"""`python -m gateway`: serve the gateway with uvicorn on GATEWAY_HOST:GATEWAY_PORT (HTTPS with
GATEWAY_TLS_CERT and GATEWAY_TLS_KEY), behind gateway.edge_protocol's slow-client guards."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from functools import partial

import uvicorn

from gateway.config import GatewaySettings, settings
from gateway.edge_protocol import GuardedHttpProtocol
from shared import preflight


def share_metrics(workers: int) -> None:
    """Several workers: prometheus-client's multiprocess mode, so any worker's /metrics counts
    every worker's requests. A fresh directory (stale files would count old processes), removed
    at exit; an operator's own PROMETHEUS_MULTIPROC_DIR is used as is (wipe it before start)."""
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        directory = tempfile.mkdtemp(prefix="gateway-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory  # the spawned workers inherit it
        atexit.register(shutil.rmtree, directory, True)


def report_backing_servers(config: GatewaySettings) -> None:
    """One line per server it cannot reach. It starts anyway and reconnects (degraded, not down)."""
    checks: list[preflight.Check] = [partial(preflight.redis_problem, config.redis_url)]
    if not config.amqp_uri.startswith("amqps"):  # TLS options are the gateway's own (amqp.py)
        checks.insert(0, partial(preflight.amqp_problem, config.amqp_uri))
    for line in preflight.problems(checks):
        print(f"warning: {line} (the gateway starts anyway and reconnects; /readyz says "
              "what is missing)", file=sys.stderr, flush=True)


def main() -> None:
    config = settings()
    report_backing_servers(config)
    share_metrics(config.workers)
    # HTTPS when GATEWAY_TLS_CERT and GATEWAY_TLS_KEY are set (the settings require both).
    # Forwarded headers only from GATEWAY_TRUSTED_PROXIES (uvicorn's ProxyHeadersMiddleware
    # takes the right-most untrusted X-Forwarded-For hop); none trusted: not even looked at.
    proxies = [str(network) for network in config.proxy_networks()]
    uvicorn.run("gateway.app:create_app", factory=True, host=config.host, port=config.port,
                workers=config.workers, loop="uvloop", http=GuardedHttpProtocol,
                access_log=False, log_config=None, timeout_graceful_shutdown=5,
                ssl_certfile=config.tls_cert, ssl_keyfile=config.tls_key,
                proxy_headers=bool(proxies), forwarded_allow_ips=proxies or None)


if __name__ == "__main__":
    main()

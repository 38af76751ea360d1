"""`python -m gateway`: serve the gateway with uvicorn on GATEWAY_HOST:GATEWAY_PORT."""

from __future__ import annotations

import uvicorn

from gateway.config import settings


def main() -> None:
    config = settings()
    uvicorn.run("gateway.app:create_app", factory=True, host=config.host, port=config.port,
                workers=config.workers, loop="uvloop", http="httptools", access_log=False,
                log_config=None, timeout_graceful_shutdown=5)


if __name__ == "__main__":
    main()

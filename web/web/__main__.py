"""`python -m web`: serve the storefront and admin console on WEB_HOST:WEB_PORT."""

from __future__ import annotations

import logging
import sys

import uvicorn

from web.config import BadConfig, settings


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    try:
        config = settings()
    except BadConfig as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    uvicorn.run("web.app:create_app", factory=True, host=config.host, port=config.port,
                loop="uvloop", http="httptools", access_log=False, log_config=None,
                timeout_graceful_shutdown=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())

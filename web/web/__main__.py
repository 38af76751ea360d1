"""`python -m web`: serve the storefront and admin console on WEB_HOST:WEB_PORT."""

from __future__ import annotations

import json
import logging
import os
import sys
import time

import uvicorn

from web.config import BadConfig, settings


class JsonLines(logging.Formatter):
    """One JSON object per line, like every other process of the suite (docs/observability.md)."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                           + f".{int(record.msecs):03d}Z", "level": record.levelname,
                           "service": "web", "logger": record.name,
                           "message": record.getMessage()})


def main() -> int:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    try:
        config = settings()
    except BadConfig as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    os.environ["WEB_SECRET"] = config.secret  # the app factory reads the same (random) one
    uvicorn.run("web.app:create_app", factory=True, host=config.host, port=config.port,
                loop="uvloop", http="httptools", access_log=False, log_config=None,
                timeout_graceful_shutdown=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Wait until a service's database is migrated at least to this image's Alembic head.

  migrated.py services/<svc>/alembic.ini --url-env <SVC>_DATABASE_URL [--wait SECONDS]

Kubernetes applies Jobs and Deployments together; the migration Job upgrades the schema and this
init container holds each new pod until it has: migrations before rollout. A database AHEAD of
this image (a revision its scripts do not know) passes: migrations are expand/contract, so older
code runs on a newer schema, and blocking there would make a rollback impossible.
Exit 0 when migrated, 1 when still behind after --wait seconds (0: check once).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool


def state(ini: str, url: str) -> tuple[bool, str]:
    scripts = ScriptDirectory.from_config(Config(ini))
    heads = set(scripts.get_heads())
    known = {rev.revision for rev in scripts.walk_revisions()}
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()
    if current == heads:
        return True, f"at head {sorted(heads)}"
    if current - known:
        return True, f"ahead of this image: {sorted(current)} (image head {sorted(heads)})"
    return False, f"at {sorted(current) or 'no revision'}, waiting for {sorted(heads)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("ini")
    parser.add_argument("--url-env", required=True)
    parser.add_argument("--wait", type=float, default=0.0)
    args = parser.parse_args(argv)
    url = os.environ.get(args.url_env)
    if not url:
        print(f"migrated: {args.url_env} is not set", file=sys.stderr)
        return 2
    deadline = time.monotonic() + args.wait
    while True:
        try:
            done, detail = state(args.ini, url)
        except Exception as exc:  # database not reachable yet: keep waiting
            done, detail = False, f"cannot check: {type(exc).__name__}"
        print(f"migrated: {args.ini}: {detail}", flush=True)
        if done:
            return 0
        if time.monotonic() >= deadline:
            return 1
        time.sleep(3)


if __name__ == "__main__":
    sys.exit(main())

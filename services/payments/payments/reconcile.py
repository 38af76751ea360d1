"""`python -m payments.reconcile`: print the ledger mismatches as JSON; exit 1 if there are any.

Uses PAYMENTS_DATABASE_URL like the service. The same check is the admin RPC
`payments.reconcile()`.
"""

from __future__ import annotations

import sys

from payments import reads
from payments.config import settings
from payments.postgres import PostgresStore
from shared import wire
from shared.db import UnitOfWorkFactory, make_engine


def main() -> int:
    factory = UnitOfWorkFactory(make_engine(settings().database_url, pool_size=1))
    try:
        mismatches = reads.reconcile(PostgresStore(factory))
    finally:
        factory.engine.dispose()
    print(wire.dumps({"mismatches": mismatches, "ok": not mismatches}))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())

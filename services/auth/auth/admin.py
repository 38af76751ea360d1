"""Admin bootstrap: with ADMIN_EMAIL and ADMIN_PASSWORD set, that admin exists after start-up.

Idempotent (a restart changes nothing and records no event) and safe when several replicas
start at once: they serialise on a per-email advisory lock, and the loser finds the account.
"""

from __future__ import annotations

import logging
import uuid

from auth.ports import UserRecord
from auth.schemas import Registration, canonical_roles, email_key, parse
from auth.use_cases import Deps

log = logging.getLogger(__name__)

ADMIN = "admin"


def ensure_admin(deps: Deps, email: str, password: str) -> None:
    data = parse(Registration, email=email, password=password)
    key = email_key(data.email)
    with deps.store.transaction() as tx:
        tx.users.lock_email(key)
        user = tx.users.by_email(key)
        if user is None:
            roles = canonical_roles(["customer", ADMIN])
            user = UserRecord(id=uuid.uuid4(), email=data.email, email_key=key,
                              display_name=None, password_hash=deps.passwords.hash(password),
                              roles=roles, created_at=deps.clock())
            if tx.users.insert(user):  # else a concurrent sign-up won: update it below
                tx.events.record("user_registered", {"user_id": str(user.id),
                                                     "email": user.email})
                tx.events.record("user_roles_changed", {"user_id": str(user.id),
                                                        "roles": list(roles)})
                log.info("admin account created", extra={"user_id": str(user.id)})
                return
            user = tx.users.by_email(key)
            assert user is not None
        roles = canonical_roles([*user.roles, ADMIN])
        if roles != user.roles:
            tx.users.set_roles(user.id, roles)
            tx.events.record("user_roles_changed", {"user_id": str(user.id),
                                                    "roles": list(roles)})
        if (deps.passwords.needs_rehash(user.password_hash)
                or not deps.passwords.verify(user.password_hash, password)):
            tx.users.set_password(user.id, deps.passwords.hash(password))
            log.info("admin password reset from ADMIN_PASSWORD",
                     extra={"user_id": str(user.id)})

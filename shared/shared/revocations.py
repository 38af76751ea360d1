"""Access tokens revoked before they expire: a small per-user "not before" table.

auth publishes `user_sessions_revoked` {user_id, not_before_ms} on a logout or a role change;
every verifier (the gateway, each service process) applies it here and refuses any token of
that user issued before `not_before_ms`, cached or not (shared.token_cache). Entries outlive
the longest access token and are then forgotten, so the table stays small.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from shared import wire
from shared.errors import Unauthorized
from shared.messaging.identity import component_user

log = logging.getLogger(__name__)

EVENT_TYPE = "user_sessions_revoked"
EXCHANGE = "auth.events"
KEEP_SECONDS = 3600.0  # longer than any access token lives (ACCESS_TOKEN_TTL, 15 min)


class Revocations:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._not_before: dict[str, tuple[int, float]] = {}  # user -> (ms, forget at)
        self._lock = threading.Lock()
        self._clock = clock

    def revoke(self, user_id: str, not_before_ms: int) -> None:
        forget_at = self._clock() + KEEP_SECONDS
        with self._lock:
            current = self._not_before.get(user_id)
            if current is None or current[0] < not_before_ms:
                self._not_before[user_id] = (not_before_ms, forget_at)
            if len(self._not_before) > 1024:
                self._prune()

    def apply(self, payload: Mapping[str, Any]) -> bool:
        """Applies an event's payload; False if it is not a well-formed revocation."""
        user, not_before = payload.get("user_id"), payload.get("not_before_ms")
        if not isinstance(user, str) or type(not_before) is not int:
            return False
        self.revoke(user, not_before)
        return True

    def check(self, user_id: str, issued_ms: int) -> None:
        """Raises Unauthorized if the user's tokens issued at `issued_ms` were revoked."""
        entry = self._not_before.get(user_id)
        if entry is not None and issued_ms < entry[0]:
            raise Unauthorized("The access token was revoked.")

    def _prune(self) -> None:
        now = self._clock()
        for user, (_, forget_at) in list(self._not_before.items()):
            if forget_at <= now:
                del self._not_before[user]


def apply_event(revocations: Revocations, publisher: str | None, body: bytes | str) -> None:
    """One `user_sessions_revoked` as received: believed only from auth's broker user."""
    if publisher != component_user("auth"):
        log.warning("ignored a revocation published by broker user %s", publisher or "(none)")
        return
    try:
        payload = wire.loads(body)
    except ValueError:
        payload = None
    if not isinstance(payload, dict) or not revocations.apply(payload):
        log.warning("ignored a malformed revocation event")

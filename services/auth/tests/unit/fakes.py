"""In-memory fakes of auth's ports (auth.ports), with real transaction semantics: a `with`
block works on a copy that replaces the state only when the block exits normally."""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from auth.domain import After, RefreshRecord, UserRecord
from shared.errors import ServiceUnavailable


@dataclass
class State:
    users: dict[uuid.UUID, UserRecord] = field(default_factory=dict)
    families: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[bytes, dict[str, Any]] = field(default_factory=dict)
    attempts: dict[int, tuple[str, dt.datetime]] = field(default_factory=dict)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    next_attempt: int = 1


class FakeUsers:
    def __init__(self, state: State) -> None:
        self.s = state

    def lock_email(self, email_key: str) -> None:
        pass

    def by_email(self, email_key: str) -> UserRecord | None:
        return next((u for u in self.s.users.values() if u.email_key == email_key), None)

    def by_id(self, user_id: uuid.UUID, lock: bool = False) -> UserRecord | None:
        return self.s.users.get(user_id)

    def insert(self, user: UserRecord) -> bool:
        if self.by_email(user.email_key) is not None:
            return False
        self.s.users[user.id] = user
        return True

    def set_password(self, user_id: uuid.UUID, password_hash: str) -> None:
        self.s.users[user_id] = replace(self.s.users[user_id], password_hash=password_hash)

    def set_roles(self, user_id: uuid.UUID, roles: tuple[str, ...]) -> UserRecord | None:
        if user_id not in self.s.users:
            return None
        self.s.users[user_id] = replace(self.s.users[user_id], roles=roles)
        return self.s.users[user_id]

    def search(self, query: str | None, after: After | None, limit: int) -> list[UserRecord]:
        found = sorted(self.s.users.values(), key=lambda u: (u.created_at, u.id), reverse=True)
        if query:
            found = [u for u in found if query.lower() in u.email.lower()
                     or query.lower() in (u.display_name or "").lower()]
        if after is not None:
            found = [u for u in found if (u.created_at, u.id) < after]
        return found[:limit]


class FakeRefreshTokens:
    def __init__(self, state: State) -> None:
        self.s = state

    def start_family(self, family_id: uuid.UUID, user_id: uuid.UUID) -> None:
        self.s.families[family_id] = {"user_id": user_id, "revoked": False}

    def add(self, token_hash: bytes, family_id: uuid.UUID, expires_at: dt.datetime) -> None:
        self.s.tokens[token_hash] = {"family_id": family_id, "expires_at": expires_at,
                                     "spent": False}

    def lock(self, token_hash: bytes) -> RefreshRecord | None:
        token = self.s.tokens.get(token_hash)
        if token is None:
            return None
        family = self.s.families[token["family_id"]]
        return RefreshRecord(family_id=token["family_id"], user_id=family["user_id"],
                             expires_at=token["expires_at"], spent=token["spent"],
                             family_revoked=family["revoked"])

    def spend(self, token_hash: bytes) -> None:
        self.s.tokens[token_hash]["spent"] = True

    def revoke_family(self, family_id: uuid.UUID) -> None:
        self.s.families[family_id]["revoked"] = True


class FakeThrottle:
    def __init__(self, state: State, clock: Any) -> None:
        self.s = state
        self.clock = clock

    def reserve(self, email_key: str, limit: int, window_seconds: int) -> tuple[int | None, int]:
        now = self.clock()
        cutoff = now - dt.timedelta(seconds=window_seconds)
        recent = sorted((at for key, at in self.s.attempts.values()
                         if key == email_key and at >= cutoff), reverse=True)
        if len(recent) >= limit:
            return None, max(1, int((recent[limit - 1] - cutoff).total_seconds()) + 1)
        attempt_id = self.s.next_attempt
        self.s.next_attempt += 1
        self.s.attempts[attempt_id] = (email_key, now)
        return attempt_id, 0

    def release(self, attempt_id: int) -> None:
        self.s.attempts.pop(attempt_id, None)

    def clear(self, email_key: str) -> None:
        for attempt_id in [i for i, (key, _) in self.s.attempts.items() if key == email_key]:
            del self.s.attempts[attempt_id]


class FakeEvents:
    def __init__(self, state: State) -> None:
        self.s = state

    def record(self, event_type: str, fields: dict[str, Any]) -> None:
        self.s.events.append((event_type, fields))


class FakeTx:
    def __init__(self, state: State, clock: Any) -> None:
        self.users = FakeUsers(state)
        self.refresh = FakeRefreshTokens(state)
        self.throttle = FakeThrottle(state, clock)
        self.events = FakeEvents(state)


class FakeStore:
    def __init__(self, clock: Any) -> None:
        self.state = State()
        self.clock = clock
        self.transactions = 0

    @contextmanager
    def transaction(self) -> Iterator[FakeTx]:
        working = copy.deepcopy(self.state)
        yield FakeTx(working, self.clock)
        self.state = working
        self.transactions += 1


class FakePasswords:
    """Reversible 'hashes' that say which parameters made them; counts the work done."""

    def __init__(self, version: int = 2) -> None:
        self.version = version
        self.calls: list[str] = []
        self.busy = False

    def _work(self, kind: str) -> None:
        if self.busy:
            raise ServiceUnavailable("busy")
        self.calls.append(kind)

    def hash(self, password: str) -> str:
        self._work("hash")
        return f"v{self.version}${password}"

    def verify(self, password_hash: str, password: str) -> bool:
        self._work("verify")
        return password_hash.split("$", 1)[1] == password

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith(f"v{self.version}$")

    def verify_dummy(self, password: str) -> None:
        self._work("verify")


class FakeTokens:
    def __init__(self) -> None:
        self.issued: list[tuple[uuid.UUID, tuple[str, ...]]] = []

    def issue(self, user_id: uuid.UUID, roles: tuple[str, ...]) -> tuple[str, int]:
        self.issued.append((user_id, roles))
        return f"access-{len(self.issued)}", 900


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)

"""Argon2id password hashing, run off the service's event loop and capped in concurrency.

Argon2 is deliberately slow and memory-hard; computed on the eventlet hub it would stall every
other request of the process. `Passwords` never hashes itself: it hands each hash to a
`HashRunner` (service.py passes `HashSlots` over `eventlet.tpool.execute`), which caps how many
run at once (each holds `memory_kib` of RAM and a core) and sheds work past a queue limit.
Parameters: docs/adr/0004-password-hashing-and-tokens.md.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from shared.errors import ServiceUnavailable

T = TypeVar("T")
HashRunner = Callable[..., Any]  # run(fn, *args) -> fn(*args), somewhere that may block


def run_inline(fn: Callable[..., T], *args: Any) -> T:
    return fn(*args)


def with_niceness(niceness: int, fn: Callable[..., T], *args: Any) -> T:
    """Run `fn` in the calling OS thread at lower CPU priority. On Linux setpriority(PRIO_PROCESS,
    0) changes only the calling thread, so the event loop's thread keeps its priority."""
    if niceness:
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, 0, niceness)
    return fn(*args)


class HashSlots:
    """A HashRunner: at most `concurrency` hashes at once, at most `queue_limit` in flight
    (running or waiting); beyond that ServiceUnavailable (503, Retry-After) sheds the load
    instead of letting a login storm hold every worker of the service."""

    def __init__(self, semaphore: AbstractContextManager[Any],
                 execute: Callable[..., Any], queue_limit: int) -> None:
        self._semaphore = semaphore
        self._execute = execute
        self._queue_limit = queue_limit
        self.in_flight = 0

    def __call__(self, fn: Callable[..., T], *args: Any) -> T:
        # Check and increment happen without a yield in between (one eventlet hub thread).
        if self.in_flight >= self._queue_limit:
            raise ServiceUnavailable("Too many sign-ins at once; retry shortly.")
        self.in_flight += 1
        try:
            with self._semaphore:
                result: T = self._execute(fn, *args)
                return result
        finally:
            self.in_flight -= 1


class Argon2Passwords:
    def __init__(self, memory_kib: int, time_cost: int, parallelism: int,
                 run: HashRunner = run_inline) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib,
                                      parallelism=parallelism, hash_len=32, salt_len=16,
                                      type=Type.ID)
        self._run = run
        self._dummy_hash: str | None = None

    def hash(self, password: str) -> str:
        digest: str = self._run(self._hasher.hash, password)
        return digest

    def verify(self, password_hash: str, password: str) -> bool:
        ok: bool = self._run(self._verify, password_hash, password)
        return ok

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    def verify_dummy(self, password: str) -> None:
        """Spend what `verify` spends, so an unknown email answers as slowly as a known one."""
        self.verify(self.dummy_hash(), password)

    def dummy_hash(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self.hash(secrets.token_urlsafe(24))
        return self._dummy_hash

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

"""Auth nameko entrypoints: payload -> use case -> result/events."""

from __future__ import annotations

from auth.config import settings
from shared.nameko.bootstrap import prepare
from shared.nameko.context import RequestContext
from shared.nameko.database import Database
from shared.nameko.health import HealthMixin

prepare("auth", settings().log_level)


class AuthService(HealthMixin):
    name = "auth"

    context = RequestContext()
    db = Database(lambda: settings().database_url, lambda: settings().db_pool_size)

"""Payments nameko entrypoints: payload -> use case -> result/events."""

from __future__ import annotations

from payments.config import settings
from shared.nameko.bootstrap import prepare
from shared.nameko.context import RequestContext
from shared.nameko.database import Database
from shared.nameko.health import HealthMixin

prepare("payments", settings().log_level)


class PaymentsService(HealthMixin):
    name = "payments"

    context = RequestContext()
    db = Database(lambda: settings().database_url, lambda: settings().db_pool_size)

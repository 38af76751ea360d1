"""Catalog nameko entrypoints: payload -> use case -> result/events."""

from __future__ import annotations

from catalog.config import settings
from shared.nameko.bootstrap import prepare
from shared.nameko.context import RequestContext
from shared.nameko.database import Database
from shared.nameko.health import HealthMixin

prepare("catalog", settings().log_level)


class CatalogService(HealthMixin):
    name = "catalog"

    context = RequestContext()
    db = Database(lambda: settings().database_url, lambda: settings().db_pool_size)

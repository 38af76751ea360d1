"""What piles up in a service, sampled for its /metrics (shared.nameko.metrics).

- outbox: events committed but not yet published, and the age of the oldest (through the
  service's `OutboxRelay`, i.e. `shared.messaging.lag.outbox_lag`);
- dead letters: the depth of every DLQ the service owns (`rpc-<service>.dlq` and its event
  handlers' `<queue>.dlq`), by passive `queue.declare` on one AMQP connection it keeps, and
  how long each has held messages without a break (the age of its oldest message unless some
  were replayed or purged meanwhile; read without touching the messages);
- DB pools: connections checked out, idle, and the pool size of each `Database` dependency,
  read at scrape time (no I/O);
- the service's business signals (`Signals`: e.g. payments.signals), sampled on its database.
A source that cannot be read loses its samples until it can, and counts an error.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from typing import Any, Protocol

import eventlet
from amqp.exceptions import NotFound
from kombu.connection import Connection
from nameko.constants import AMQP_URI_CONFIG_KEY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from shared.messaging import names, topology
from shared.messaging.delivery import error_summary
from shared.messaging.lag import OutboxLag
from shared.nameko.database import Database
from shared.nameko.outbox import OutboxRelay

log = logging.getLogger(__name__)

SAMPLE_TIMEOUT = 5.0  # seconds one source may take before its sample is given up


class Signals(Protocol):
    """A service's business gauges: `sample` reads them (I/O), `collect` only reports."""

    def sample(self, uow: Any) -> None: ...

    def collect(self) -> Iterable[Metric]: ...


def owned_dead_letter_queues(service: str) -> list[str]:
    queues = [names.rpc_queue(service)]
    queues += [s.queue for s in topology.subscriptions() if s.service == service]
    return [names.dead_letter_queue(queue) for queue in queues]


class Backlog:
    def __init__(self, container: Any, signals: Signals | None = None) -> None:
        self.signals = signals
        self.service = container.service_name
        self.interval = _refresh_seconds()
        self._uri: str = container.config[AMQP_URI_CONFIG_KEY]
        self._relays = [d for d in container.dependencies if isinstance(d, OutboxRelay)]
        self.databases = [d for d in container.dependencies if isinstance(d, Database)]
        self.queues = owned_dead_letter_queues(self.service)
        self.outbox: OutboxLag | None = None
        self.dlq: dict[str, int] = {}
        self.dlq_since: dict[str, float] = {}  # queue -> monotonic time it last became non-empty
        self.errors = {"outbox": 0, "dlq": 0, "signals": 0}
        self._conn: Any = None

    def run(self) -> None:
        while True:
            self.sample()
            eventlet.sleep(self.interval)

    def sample(self) -> None:
        self.outbox = self._guarded("outbox", self._outbox)
        self.dlq = self._guarded("dlq", self._dead_letters) or {}
        now = time.monotonic()
        self.dlq_since = {queue: self.dlq_since.get(queue, now)
                          for queue, depth in self.dlq.items() if depth > 0}
        if self.signals is not None and self.databases and self.databases[0].factory:
            self._guarded("signals", lambda: self.signals.sample(self.databases[0].factory))

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.release()
            except Exception as exc:
                log.debug("closing the metrics connection: %s", error_summary(exc))

    def _guarded(self, source: str, read: Any) -> Any:
        # Never raises: an exception in a managed greenthread would kill the container.
        try:
            with eventlet.Timeout(SAMPLE_TIMEOUT):
                return read()
        except (Exception, eventlet.Timeout) as exc:  # a kill (GreenletExit) goes through
            self.errors[source] += 1
            log.warning("metrics: could not sample the %s (%s)", source, error_summary(exc))
            if source == "dlq":
                self.close()
            return None

    def _outbox(self) -> OutboxLag | None:
        if not self._relays:
            return None
        lag: OutboxLag = self._relays[0].get_dependency(None)()
        return lag

    def _dead_letters(self) -> dict[str, int]:
        if self._conn is None:
            self._conn = Connection(self._uri, connect_timeout=3)  # type: ignore[no-untyped-call]
            self._conn.connect()
        depths: dict[str, int] = {}
        channel = self._conn.channel()
        try:
            for queue in self.queues:
                try:
                    depths[queue] = channel.queue_declare(queue=queue, passive=True).message_count
                except NotFound:  # not declared yet: no sample; the broker closed the channel
                    channel = self._conn.channel()
        finally:
            channel.close()
        return depths


class BacklogCollector(Collector):
    def __init__(self, backlog: Backlog) -> None:
        self.backlog = backlog

    def collect(self) -> Iterable[Metric]:
        b, service = self.backlog, [self.backlog.service]
        pending = GaugeMetricFamily("suite_outbox_pending_events",
                                    "Events committed but not yet published", labels=["service"])
        oldest = GaugeMetricFamily("suite_outbox_oldest_age_seconds",
                                   "Age of the oldest unpublished event (0 when none)",
                                   labels=["service"])
        if b.outbox is not None:
            pending.add_metric(service, b.outbox.pending)
            oldest.add_metric(service, b.outbox.oldest_age_seconds)
        dlq = GaugeMetricFamily("suite_dlq_messages", "Messages parked in a dead-letter queue",
                                labels=["service", "queue"])
        held = GaugeMetricFamily("suite_dlq_nonempty_seconds",
                                 "How long a dead-letter queue has held messages without a break",
                                 labels=["service", "queue"])
        now = time.monotonic()
        for queue, depth in sorted(b.dlq.items()):
            dlq.add_metric([b.service, queue], depth)
            held.add_metric([b.service, queue], now - b.dlq_since[queue] if depth else 0.0)
        errors = CounterMetricFamily("suite_metrics_sample_errors",
                                     "Samples of the outbox or the DLQs that failed",
                                     labels=["service", "source"])
        for source, count in b.errors.items():
            errors.add_metric([b.service, source], count)
        yield from (pending, oldest, dlq, held, errors, *self._pools())
        if b.signals is not None:
            yield from b.signals.collect()

    def _pools(self) -> Iterable[Metric]:
        labels = ["service", "pool"]
        checked_out = GaugeMetricFamily("suite_db_pool_checked_out",
                                        "Connections in use", labels=labels)
        idle = GaugeMetricFamily("suite_db_pool_idle", "Open connections not in use",
                                 labels=labels)
        size = GaugeMetricFamily("suite_db_pool_size",
                                 "Configured pool size (overflow comes on top)", labels=labels)
        for database in self.backlog.databases:
            if database.factory is None:
                continue
            pool, key = database.factory.engine.pool, [self.backlog.service, database.pool]
            for family, reader in ((checked_out, "checkedout"), (idle, "checkedin"),
                                   (size, "size")):
                read = getattr(pool, reader, None)
                if read is not None:
                    family.add_metric(key, read())
        yield from (checked_out, idle, size)


def _refresh_seconds() -> float:
    raw = os.environ.get("METRICS_REFRESH_SECONDS", "").strip()
    try:
        return max(0.5, float(raw)) if raw else 10.0
    except ValueError:
        log.warning("METRICS_REFRESH_SECONDS is not a number; sampling every 10 s")
        return 10.0

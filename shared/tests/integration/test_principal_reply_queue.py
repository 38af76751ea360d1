"""A service fetching the JWKS from auth declares its reply queue under its own name, the only
reply queues its RabbitMQ user may declare (deploy/rabbitmq/permissions.json); nameko's
standalone proxy would name it `rpc.reply-standalone_rpc_proxy-...` and be refused (found by
tests/containers, where each service has its own least-privilege user)."""

from __future__ import annotations

import re

from shared.nameko.principal import CallerRpcProxy


def test_the_reply_queue_is_named_after_the_calling_service(amqp_uri: str) -> None:
    proxy = CallerRpcProxy("catalog", "auth", {"AMQP_URI": amqp_uri}, timeout=5)
    proxy.start()
    try:
        name = proxy._reply_listener.queue.name
    finally:
        proxy.stop()
    assert re.fullmatch(r"rpc\.reply-catalog-[0-9a-f-]{36}", name), name

"""A reply the broker cannot take (it went away after the work was done) is logged, not raised:
raising from the reply kills the nameko container and every other call running in it."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import kombu.exceptions
import pytest

from shared.nameko import replies


@pytest.mark.parametrize("error", [kombu.exceptions.OperationalError("Server unexpectedly "
                                                                     "closed connection"),
                                   ConnectionRefusedError(111, "ECONNREFUSED")])
def test_a_reply_lost_with_the_broker_is_logged_not_raised(monkeypatch, caplog, error):
    def publish(config, message, payload):
        raise error

    monkeypatch.setattr(replies, "publish", publish)
    message = SimpleNamespace(properties={"reply_to": "rpc.reply-1", "correlation_id": "c1"})
    with caplog.at_level(logging.WARNING, logger=replies.__name__):
        result, exc_info = replies.send_reply({}, message, {"ok": True}, None)
    assert (result, exc_info) == ({"ok": True}, None)
    assert "could not send an RPC reply" in caplog.text


def test_other_reply_errors_still_raise(monkeypatch):
    def publish(config, message, payload):
        raise RuntimeError("a bug, not the broker")

    monkeypatch.setattr(replies, "publish", publish)
    message = SimpleNamespace(properties={"reply_to": "rpc.reply-1"})
    with pytest.raises(RuntimeError):
        replies.send_reply({}, message, 1, None)

"""What the safe RPC entrypoint lets through to nameko, and how nameko's errors are typed."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest
from nameko.exceptions import IncorrectSignature, MalformedRequest, MethodNotFound

from shared.errors import BadRequest, NotFound, ValidationFailed
from shared.nameko.envelope import Malformed, read_request
from shared.nameko.rpc import typed


def message(body=b'{"args": [1], "kwargs": {"a": 2}}', content_type="application/json",
            content_encoding="utf-8", headers=None):
    return SimpleNamespace(body=body, content_type=content_type,
                           content_encoding=content_encoding, headers=headers or {})


@pytest.mark.parametrize("msg", [
    message(),
    message(content_type="application/json; charset=utf-8"),
    message(content_type="Application/JSON", content_encoding=None),
    message(body='{"args": [1], "kwargs": {"a": 2}}'),  # a transport that hands over text
    message(headers={"nameko.call_id_stack": ["gateway.x.1"], "nameko.request_id": "r"}),
])
def test_well_formed_requests_pass_decoded(msg):
    assert read_request(msg) == {"args": [1], "kwargs": {"a": 2}}


@pytest.mark.parametrize(("msg", "reason"), [
    (message(content_type=None), "no content_type"),
    (message(content_type=""), "no content_type"),
    (message(content_type="application/x-python-serialize"), "not supported"),
    (message(content_type="text/plain"), "not supported"),
    (message(content_encoding="binary"), "not utf-8"),
    (message(body=b'{"args": [1'), "not valid JSON"),
    (message(body=b""), "not valid JSON"),
    (message(body=b"\xff\xfe"), "not valid JSON"),
    (message(body=b'{"args": [1]}'), '"args"'),
    (message(body=b'{"kwargs": {}}'), '"args"'),
    (message(body=b'{"args": {}, "kwargs": {}}'), '"args"'),
    (message(body=b'{"args": [], "kwargs": []}'), '"args"'),
    (message(body=b'"just a string"'), '"args"'),
    (message(headers={"nameko.call_id_stack": 7}), "call_id_stack"),
    (message(headers={"nameko.call_id_stack": [1, 2]}), "call_id_stack"),
])
def test_malformed_requests_are_refused_with_a_reason(msg, reason):
    with pytest.raises(Malformed, match=reason.replace("(", r"\(")):
        read_request(msg)


def exc_info(exc):
    try:
        raise exc
    except Exception:
        return sys.exc_info()


@pytest.mark.parametrize(("nameko_error", "ours"), [
    (IncorrectSignature("add() takes 3 positional arguments but 4 were given"),
     ValidationFailed),
    (MethodNotFound("nope"), BadRequest),
    (MalformedRequest("Message missing `args` or `kwargs`"), BadRequest),
])
def test_nameko_request_errors_become_typed_errors(nameko_error, ours):
    cls, error, _ = typed(exc_info(nameko_error))
    assert cls is ours and type(error) is ours
    assert str(nameko_error) in error.detail


@pytest.mark.parametrize("error", [NotFound("x"), ValueError("internal")])
def test_other_errors_pass_through_untouched(error):
    info = exc_info(error)
    assert typed(info) is info
    assert typed(None) is None

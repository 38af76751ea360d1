"""shared.wire: what crosses the bus is plain JSON any client can read."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from kombu import serialization
from kombu.exceptions import EncodeError

from shared import wire

ID = uuid.UUID("7f3c2a1e-0d4b-4f8e-9a51-3c6d2b1e0f99")


def test_uuids_travel_as_strings():
    assert wire.loads(wire.dumps({"id": ID})) == {"id": str(ID)}


def test_aware_utc_datetimes_are_written_with_z():
    moment = dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)

    assert wire.dumps(moment) == '"2026-01-02T03:04:05.678000Z"'


def test_naive_datetimes_are_taken_as_utc():
    assert wire.dumps(dt.datetime(2026, 1, 2, 3, 4, 5)) == '"2026-01-02T03:04:05Z"'


def test_other_offsets_are_converted_to_utc():
    paris = dt.timezone(dt.timedelta(hours=2))

    assert wire.dumps(dt.datetime(2026, 6, 1, 14, 0, tzinfo=paris)) == '"2026-06-01T12:00:00Z"'


def test_dates_travel_as_iso_strings():
    assert wire.dumps({"day": dt.date(2026, 2, 28)}) == '{"day":"2026-02-28"}'


def test_decimal_is_refused_with_a_reason():
    with pytest.raises(TypeError) as refused:
        wire.dumps({"price": Decimal("19.99")})

    assert "minor units" in str(refused.value.__cause__)


def test_microseconds_are_kept():
    moment = dt.datetime(2026, 1, 2, 3, 4, 5, 1, tzinfo=dt.UTC)

    assert wire.loads(wire.dumps(moment)) == "2026-01-02T03:04:05.000001Z"


def test_unknown_types_are_refused_not_stringified():
    with pytest.raises(TypeError):
        wire.dumps({"thing": object()})


def test_sets_become_lists():
    assert wire.loads(wire.dumps({"roles": {"admin"}})) == {"roles": ["admin"]}


def test_loads_accepts_str_bytes_and_memoryview():
    for data in ('{"a": 1}', b'{"a": 1}', bytearray(b'{"a": 1}'), memoryview(b'{"a": 1}')):
        assert wire.loads(data) == {"a": 1}


def test_loads_refuses_what_is_not_json():
    with pytest.raises(ValueError):
        wire.loads(b"\x80\x03}q\x00.")  # a pickle


@pytest.fixture
def kombu_json():
    wire.register_kombu_json()
    yield
    serialization.register_json()  # kombu's own again, for whoever runs next in this process


def test_kombu_json_serializer_follows_the_wire_rules(kombu_json):
    moment = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)

    content_type, encoding, payload = serialization.dumps({"id": ID, "at": moment},
                                                          serializer="json")

    assert (content_type, encoding) == ("application/json", "utf-8")
    # kombu's own encoder would wrap these in {"__type__": ...} envelopes.
    assert wire.loads(payload) == {"id": str(ID), "at": "2026-01-02T03:04:05Z"}
    assert "__type__" not in payload


def test_kombu_json_serializer_refuses_decimal(kombu_json):
    with pytest.raises(EncodeError):
        serialization.dumps({"price": Decimal("1.5")}, serializer="json")


def test_kombu_decodes_json_with_the_wire_rules(kombu_json):
    body = b'{"at": {"__type__": "datetime", "__value__": "2026-01-02T03:04:05"}}'

    # An envelope is plain data to us: no type is ever revived from the wire.
    assert serialization.loads(body, "application/json", "utf-8") == {
        "at": {"__type__": "datetime", "__value__": "2026-01-02T03:04:05"}}

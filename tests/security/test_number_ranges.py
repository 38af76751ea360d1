"""Numbers outside what the suite stores are refused at the edge: 412 for a version no product
can have, 422 for anything else, never a 500 (and never a match: `int()` reads the digits of
every script, an entity tag's digits are ASCII). Through the running suite, by every route that
takes a number: the product version (`If-Match`, a PostgreSQL integer), money (bigint), stock
and quantities (integer) and paging limits."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import pytest

from tests.security.conftest import Actor
from tests.security.test_bola_matrix import problem

BEYOND_64_BITS = 2**64
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def version_tags(version: int) -> list[bytes]:
    """If-Match values that name no version the catalog can hold, or not in ASCII digits.
    Header bytes are read as Latin-1: its superscripts (¹²³) pass str.isdigit() but not int()."""
    return [f'"{version}"'.translate(SUPERSCRIPT).encode("latin-1", "replace"),
            '"¹²³"'.encode("latin-1"),
            f'"{version}"'.translate(ARABIC_INDIC).encode(),  # UTF-8, as a client would send
            f'"{BEYOND_64_BITS}"'.encode(), f'"{2**63}"'.encode(), f'"{2**31}"'.encode(),
            b'"0"', b'"' + b"9" * 5000 + b'"']


def test_an_entity_tag_out_of_range_or_script_is_a_412(http: httpx.Client, admin: Actor,
                                                        product: dict[str, Any]):
    path = f"/products/{product['id']}"
    version = http.get(path).json()["version"]
    for tag in version_tags(version):
        answer = http.patch(path, headers={**admin.headers, "If-Match": tag},
                            json={"name": "Renamed by a forged tag"})
        problem(answer, 412)
    assert http.get(path).json()["version"] == version, "no change went through"
    matching = http.patch(path, headers={**admin.headers,
                                         "If-Match": f'"{version}", "'.encode() + b'\xb9"'},
                          json={"name": product["name"]})
    assert matching.status_code == 200, "one ASCII tag that matches is enough"


@pytest.mark.parametrize("amount", [BEYOND_64_BITS, 2**63, -BEYOND_64_BITS])
def test_a_refund_amount_beyond_bigint_is_a_422(http: httpx.Client, admin: Actor,
                                                alices_payment: dict[str, Any], amount: int):
    answer = http.post(f"/payments/{alices_payment['id']}/refunds", json={"amount": amount},
                       headers={**admin.headers, "Idempotency-Key": uuid.uuid4().hex})
    problem(answer, 422)


def test_the_largest_bigint_refund_is_more_than_is_left(http: httpx.Client, admin: Actor,
                                                        alices_payment: dict[str, Any]):
    answer = http.post(f"/payments/{alices_payment['id']}/refunds", json={"amount": 2**63 - 1},
                       headers={**admin.headers, "Idempotency-Key": uuid.uuid4().hex})
    problem(answer, 422)


def test_every_numeric_body_field_refuses_numbers_past_its_column(
        http: httpx.Client, admin: Actor, alice: Actor, product: dict[str, Any]):
    sku = f"RANGE-{uuid.uuid4().hex[:8]}"
    new = {"sku": sku, "name": "Range lamp", "price": 1}
    refused = [
        ("POST", "/products", admin, {**new, "price": BEYOND_64_BITS}),
        ("POST", "/products", admin, {**new, "price": 2**63}),
        ("POST", "/products", admin, {**new, "stock": 2**31}),
        ("PATCH", f"/products/{product['id']}", admin, {"price": -BEYOND_64_BITS}),
        ("POST", f"/products/{product['id']}/stock", admin,
         {"delta": BEYOND_64_BITS, "reason": "range"}),
        ("POST", f"/products/{product['id']}/stock", admin,
         {"delta": -(2**31), "reason": "range"}),
        ("POST", "/payments", alice, {"items": [{"product_id": product["id"],
                                                 "quantity": BEYOND_64_BITS}],
                                      "payment_method": "tok_visa"}),
    ]
    for method, path, actor, body in refused:
        answer = http.request(method, path, json=body, headers={
            **actor.headers, "Idempotency-Key": uuid.uuid4().hex})
        problem(answer, 422)


@pytest.mark.parametrize("limit", [str(BEYOND_64_BITS), "٢٠", "-1", "9" * 5000])
def test_a_paging_limit_out_of_range_is_a_422(http: httpx.Client, alice: Actor, limit: str):
    for path in ("/products", "/payments"):
        problem(http.get(path, params={"limit": limit}, headers=alice.headers), 422)


def test_a_json_number_of_thousands_of_digits_is_refused_not_a_500(http: httpx.Client,
                                                                   admin: Actor):
    body = b'{"sku": "HUGE-1", "name": "Huge", "price": ' + b"9" * 5000 + b"}"
    answer = http.post("/products", content=body, headers={
        **admin.headers, "Content-Type": "application/json"})
    assert answer.status_code in (400, 422), answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("rank", ["1e308", "1e-50", str(BEYOND_64_BITS) + ".0e30"])
def test_a_search_cursor_with_a_rank_past_postgresql_real_is_a_422(http: httpx.Client,
                                                                    rank: str):
    # A search cursor is the last row's (rank, id), base64 JSON: its rank is a PostgreSQL real.
    raw = f'["r", {rank}, "{uuid.uuid4()}"]'.encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    problem(http.get("/products", params={"q": "lamp", "cursor": cursor}), 422)

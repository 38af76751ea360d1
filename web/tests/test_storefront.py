"""A customer in real Chromium: search, cart, checkout, orders; a decline; a double submit."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from web.tests.conftest import bearer, sign_up

pytestmark = pytest.mark.e2e


def available(api, product_id):
    return api.get(f"/products/{product_id}").json()["available"]


def add_from_search(page: Page, web: str, tag: str, name: str) -> None:
    page.goto(f"{web}/")
    page.get_by_label("Search").fill(tag)
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"\?q="))
    page.get_by_role("button", name=f"Add {name} to cart").click()
    page.wait_for_url(f"{web}/cart")


def test_customer_searches_buys_two_products_and_sees_the_order(web, api, new_page,
                                                                  make_products, tag):
    first, second = make_products(tag, 2)
    page = new_page()
    email = sign_up(page, web)
    add_from_search(page, web, tag, first["name"])
    add_from_search(page, web, tag, second["name"])
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(2)
    expect(page.get_by_test_id("total")).to_have_text("26.00 USD")  # 12.50 + 13.50
    page.get_by_label("Visa ending 4242 (succeeds)").check()
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"/orders\?placed="))
    expect(page.get_by_role("status")).to_contain_text("order is placed")
    order = page.locator("tbody tr").first
    expect(order).to_contain_text(first["name"])
    expect(order).to_contain_text(second["name"])
    expect(order).to_contain_text("succeeded")
    expect(page.get_by_test_id("spent")).to_have_text("26.00 USD")
    expect(page.get_by_label("0 items")).to_be_visible()  # the cart is empty again
    # The stock went down, on the product page too.
    page.goto(f"{web}/products/{first['id']}")
    expect(page.get_by_test_id("availability")).to_contain_text("9 available")
    assert available(api, second["id"]) == 9
    payments = api.get("/payments", headers=bearer(api, email)).json()["items"]
    assert [p["status"] for p in payments] == ["succeeded"]


def test_a_declined_card_shows_its_reason_and_charges_nothing(web, api, new_page,
                                                             make_products, tag):
    (product,) = make_products(tag, 1)
    page = new_page()
    sign_up(page, web)
    add_from_search(page, web, tag, product["name"])
    page.get_by_label("Card with insufficient funds").check()
    page.get_by_role("button", name="Place order").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("declined (insufficient_funds)")
    expect(alert).to_contain_text("insufficient funds")
    expect(page.get_by_test_id("request-id")).to_have_text(re.compile(r"^[0-9a-f-]{36}$"))
    expect(page.locator("table tbody tr")).to_have_count(1)  # the cart is kept for a retry
    assert available(api, product["id"]) == 10


def test_out_of_stock_names_the_item(web, api, new_page, make_products, tag):
    (product,) = make_products(tag, 1, stock=1)
    page = new_page()
    sign_up(page, web)
    page.goto(f"{web}/products/{product['id']}")
    page.get_by_label("Quantity").fill("3")
    page.get_by_role("button", name="Add to cart").click()
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_role("alert")).to_contain_text(f"“{product['name']}”")


def test_a_double_submitted_checkout_charges_once(web, api, new_page, make_products, tag):
    (product,) = make_products(tag, 1)
    page = new_page()
    email = sign_up(page, web)
    add_from_search(page, web, tag, product["name"])
    # Two real submissions of one form: the browser sends both (the second replaces the first
    # navigation), each with the form's Idempotency-Key.
    page.get_by_role("button", name="Place order").dblclick()
    page.wait_for_url(re.compile(r"/orders\?placed="))
    payments = api.get("/payments", headers=bearer(api, email)).json()["items"]
    assert [p["status"] for p in payments] == ["succeeded"]
    assert available(api, product["id"]) == 9


def test_a_replayed_checkout_form_charges_once(web, api, new_page, make_products, tag):
    (product,) = make_products(tag, 1)
    page = new_page()
    email = sign_up(page, web)
    add_from_search(page, web, tag, product["name"])
    fields = {name: page.locator(f"form.checkout input[name={name}]").get_attribute("value")
              for name in ("csrf", "attempt")}
    fields["payment_method"] = "tok_visa"
    answers = [page.request.post(f"{web}/checkout", form=fields, max_redirects=0)
               for _ in range(3)]
    assert [a.status for a in answers] == [303, 303, 303]
    assert len({a.headers["location"] for a in answers}) == 1  # the same order each time
    payments = api.get("/payments", headers=bearer(api, email)).json()["items"]
    assert len(payments) == 1 and payments[0]["status"] == "succeeded"
    assert available(api, product["id"]) == 9


def test_csrf_is_refused_without_the_token(web, api, new_page, make_products, tag):
    (product,) = make_products(tag, 1)
    page = new_page()
    sign_up(page, web)
    for form in ({"product_id": product["id"]}, {"product_id": product["id"], "csrf": "0" * 64}):
        answer = page.request.post(f"{web}/cart/add", form=form, max_redirects=0)
        assert answer.status == 403
        assert "did not come from this site" in answer.text()
    page.goto(f"{web}/cart")
    expect(page.get_by_text("Your cart is empty")).to_be_visible()


def test_more_appends_the_next_keyset_page_in_place(web, new_page, make_products, tag):
    make_products(tag, 14)
    page = new_page()
    page.goto(f"{web}/?q={tag}")
    cards = page.locator("#products li.card")
    expect(cards).to_have_count(12)
    page.get_by_role("link", name="More products").click()  # htmx: no navigation
    expect(cards).to_have_count(14)
    assert page.url == f"{web}/?q={tag}"
    expect(page.get_by_role("link", name="More products")).to_have_count(0)
    names = [name.strip() for name in page.locator("#products li.card h2").all_inner_texts()]
    assert len(set(names)) == 14  # newest first, none twice, none missing

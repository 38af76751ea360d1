"""The admin console in real Chromium: a concurrent edit, a refund with restock, the 403 page."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from web.tests.conftest import bearer, sign_in, sign_up

pytestmark = pytest.mark.e2e


@pytest.fixture
def admin_page(web, new_page, suite_env):
    page = new_page()
    sign_in(page, web, suite_env["ADMIN_EMAIL"], suite_env["ADMIN_PASSWORD"])
    return page


def test_admin_sees_the_conflict_when_another_edit_lands_first(web, api, admin_page,
                                                              admin_auth, make_products, tag):
    (product,) = make_products(tag, 1)
    page = admin_page
    page.goto(f"{web}/admin/products/{product['id']}")
    expect(page.get_by_test_id("version")).to_have_text(str(product["version"]))
    # Someone else saves first, through the API.
    other = api.patch(f"/products/{product['id']}", json={"name": f"{tag} renamed"},
                      headers={**admin_auth, "If-Match": f'"{product["version"]}"'})
    assert other.status_code == 200, other.text
    page.get_by_label("Price (USD)").fill("99.00")
    page.get_by_role("button", name="Save changes").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Someone else changed this product")
    expect(page.get_by_label("Name")).to_have_value(f"{tag} renamed")  # the current version
    expect(page.get_by_text("Your change (not saved)")).to_be_visible()
    now = api.get(f"/products/{product['id']}").json()
    assert now["price"] == product["price"] and now["name"] == f"{tag} renamed"
    # Saving again from the current version works.
    page.get_by_label("Price (USD)").fill("99.00")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_have_text("Changes saved.")
    assert api.get(f"/products/{product['id']}").json()["price"] == 9900


def test_admin_refunds_with_restock_and_the_stock_comes_back(web, api, admin_page,
                                                            make_products, tag):
    (product,) = make_products(tag, 1)
    email = f"buyer-{uuid.uuid4().hex[:10]}@example.com"
    api.post("/auth/register", json={"email": email, "password": "correct horse battery staple"})
    paid = api.post("/payments", json={"items": [{"product_id": product["id"], "quantity": 2}],
                                       "payment_method": "tok_visa"},
                    headers={**bearer(api, email), "Idempotency-Key": str(uuid.uuid4())})
    assert paid.status_code == 201, paid.text
    assert api.get(f"/products/{product['id']}").json()["available"] == 8
    page = admin_page
    page.goto(f"{web}/admin/users?q={email}")
    page.get_by_role("link", name=f"Payments of {email}").click()
    page.locator(f"tr[data-payment-id='{paid.json()['id']}'] a").first.click()
    page.get_by_label(re.compile("Put the items back in stock")).check()
    page.get_by_role("button", name="Refund").click()
    expect(page.get_by_role("status")).to_have_text("Refund issued.")
    expect(page.get_by_test_id("status")).to_have_text("refunded")
    assert api.get(f"/products/{product['id']}").json()["available"] == 10


def test_a_customer_cannot_open_admin_pages(web, new_page):
    page = new_page()
    sign_up(page, web)
    for path in ("/admin/products", "/admin/payments", "/admin/users", "/admin/ops"):
        response = page.goto(f"{web}{path}")
        assert response is not None and response.status == 403, path
        expect(page.get_by_role("heading", level=1)).to_have_text("403 — Not allowed")
    # Nor post to them (with a valid CSRF token: the role is what refuses it).
    token = page.locator("input[name=csrf]").first.get_attribute("value")
    answer = page.request.post(f"{web}/admin/products/new", max_redirects=0,
                               form={"csrf": token, "sku": "x", "name": "x", "price": "1"})
    assert answer.status == 403


def test_signed_out_visitors_are_sent_to_sign_in(web, new_page):
    page = new_page()
    page.goto(f"{web}/admin/ops")
    assert page.url == f"{web}/signin?next=/admin/ops"
    page.goto(f"{web}/orders")
    assert page.url == f"{web}/signin?next=/orders"


def test_admin_creates_a_product_and_sees_an_api_error_with_its_request_id(web, admin_page, tag):
    page = admin_page
    page.goto(f"{web}/admin/products")
    for sku in (tag, tag):  # the second time the sku is taken: the API's 409, readable
        page.get_by_label("SKU").fill(sku)
        page.get_by_label("Name", exact=True).fill(f"{tag} new")
        page.get_by_label("Price (e.g. 19.99)").fill("5.25")
        page.get_by_role("button", name="Create product").click()
        if page.url.endswith("notice=created"):
            expect(page.get_by_role("status")).to_have_text("Product created.")
            page.goto(f"{web}/admin/products")
    expect(page.get_by_role("alert")).to_contain_text("already used by another product")
    expect(page.get_by_test_id("request-id")).not_to_be_empty()

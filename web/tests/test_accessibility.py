"""axe-core on every page: no serious or critical violations. With WEB_SCREENSHOTS=<dir> each
page is also saved as a PNG (docs/web.md shows them)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from web.tests.conftest import PASSWORD, sign_in

pytestmark = pytest.mark.e2e

AXE = Path(__file__).resolve().parents[1] / "node_modules/axe-core/axe.min.js"
SHOTS = os.environ.get("WEB_SCREENSHOTS")


def audit(page, name):
    # axe is injected by the test (the page's CSP would refuse it: the context bypasses CSP).
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                        nodes: v.nodes.map(n => n.target.join(' '))}));
    }""")
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)
    return bad


@pytest.mark.skipif(not AXE.exists(), reason="npm ci in web/ installs axe-core")
def test_every_page_has_no_serious_accessibility_violations(web, api, browser, admin_auth,
                                                            make_products, suite_env):
    tag = f"a11y{uuid.uuid4().hex[:6]}"
    products = make_products(tag, 3)
    email = f"a11y-{uuid.uuid4().hex[:8]}@example.com"
    found = {}
    context = browser.new_context(bypass_csp=True, viewport={"width": 1100, "height": 800})
    page = context.new_page()
    for name, path in (("products", "/"), ("signup", "/signup"), ("signin", "/signin")):
        page.goto(web + path)
        found[name] = audit(page, name)
    page.goto(f"{web}/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(f"{web}/")
    page.goto(f"{web}/products/{products[0]['id']}")
    found["product"] = audit(page, "product")
    page.get_by_role("button", name="Add to cart").click()
    page.wait_for_url(f"{web}/cart")
    found["cart"] = audit(page, "cart")
    page.get_by_label("Card that is declined").check()
    page.get_by_role("button", name="Place order").click()
    found["checkout-declined"] = audit(page, "checkout-declined")
    page.get_by_label("Visa ending 4242 (succeeds)").check()
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(f"{web}/orders?placed=*")
    found["orders"] = audit(page, "orders")
    page.goto(f"{web}/admin/products")
    found["forbidden"] = audit(page, "forbidden")
    context.close()

    context = browser.new_context(bypass_csp=True, viewport={"width": 1100, "height": 800})
    page = context.new_page()
    sign_in(page, web, suite_env["ADMIN_EMAIL"], suite_env["ADMIN_PASSWORD"])
    payment = api.get("/payments", params={"user_id": _user_id(api, admin_auth, email)},
                      headers=admin_auth).json()["items"][0]
    for name, path in (("admin-products", "/admin/products"),
                       ("admin-product", f"/admin/products/{products[0]['id']}"),
                       ("admin-payments", f"/admin/payments?user_id={payment['user_id']}"),
                       ("admin-payment", f"/admin/payments/{payment['id']}"),
                       ("admin-users", f"/admin/users?q={email}"),
                       ("admin-ops", "/admin/ops"), ("not-found", "/nowhere")):
        page.goto(web + path)
        found[name] = audit(page, name)
    # The conflict: the form was opened at an older version than the one saved meanwhile.
    page.goto(f"{web}/admin/products/{products[1]['id']}")
    api.patch(f"/products/{products[1]['id']}", json={"name": f"{tag} renamed"},
              headers=admin_auth)
    page.get_by_label("Price (USD)").fill("15.00")
    page.get_by_role("button", name="Save changes").click()
    page.get_by_role("alert").wait_for()
    found["admin-product-conflict"] = audit(page, "admin-product-conflict")
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{web}/?q={tag}")
    found["products-phone"] = audit(page, "products-phone")
    context.close()
    assert {name: bad for name, bad in found.items() if bad} == {}


def _user_id(api, admin_auth, email):
    users = api.get("/admin/users", params={"q": email}, headers=admin_auth).json()["items"]
    return users[0]["id"]

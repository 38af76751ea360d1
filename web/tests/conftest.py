"""Browser tests: the suite started as `make run` starts it (session `suite` fixture, web
included), driven in Debian's Chromium by Playwright (no browser download)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

CHROMIUM = os.environ.get("WEB_TEST_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def web(suite: Any) -> str:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(suite.web_url + "/", timeout=5).status_code == 200:
                return str(suite.web_url)
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"web not up:\n{suite.log()[-3000:]}")
        time.sleep(0.3)


@pytest.fixture(scope="session")
def api(suite: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=suite.url, timeout=20) as client:
        yield client


def bearer(api: httpx.Client, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = api.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture(scope="session")
def admin_auth(api: httpx.Client, suite_env: dict[str, str]) -> dict[str, str]:
    return bearer(api, suite_env["ADMIN_EMAIL"], suite_env["ADMIN_PASSWORD"])


@pytest.fixture
def make_products(api: httpx.Client, admin_auth: dict[str, str]
                  ) -> Callable[..., list[dict[str, Any]]]:
    def make(tag: str, count: int = 2, stock: int = 10, price: int = 1250
             ) -> list[dict[str, Any]]:
        made = []
        for i in range(count):
            body = {"sku": f"{tag}-{i}", "name": f"{tag} item {i}", "category": "tests",
                    "description": f"A test product tagged {tag}", "price": price + i * 100,
                    "stock": stock}
            response = api.post("/products", json=body, headers=admin_auth)
            assert response.status_code == 201, response.text
            made.append(response.json())
        return made

    return make


@pytest.fixture
def tag() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():  # CI installs it: apt-get install chromium
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM,
                                              args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """A page in a fresh context (own cookies); CSP violations fail the test."""
    contexts: list[BrowserContext] = []
    violations: list[str] = []

    def make(**options: Any) -> Page:
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda msg: violations.append(msg.text)
                if "Content Security Policy" in msg.text else None)
        return page

    yield make
    for context in contexts:
        context.close()
    assert violations == [], violations


def sign_up(page: Page, web: str, email: str | None = None) -> str:
    email = email or f"shopper-{uuid.uuid4().hex[:10]}@example.com"
    page.goto(f"{web}/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(f"{web}/")
    return email


def sign_in(page: Page, web: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{web}/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{web}/")

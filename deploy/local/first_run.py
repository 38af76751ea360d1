"""What a first `make run` needs: a development admin (never in production) and where to go."""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
import urllib.request

from sqlalchemy import create_engine, pool, text

from shared.preflight import service_database_url

DEV_ADMIN_EMAIL = "admin@example.com"
TRUE = ("1", "true", "yes", "on")


def production(env: dict[str, str]) -> bool:
    """Production mode: SUITE_ENV=production, or auth told to require real signing keys."""
    return (env.get("SUITE_ENV", "").lower() == "production"
            or env.get("AUTH_REQUIRE_SIGNING_KEYS", "").lower() in TRUE)


def _account_exists(env: dict[str, str], email: str) -> bool:
    engine = create_engine(service_database_url("auth", env), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT 1 FROM users WHERE email_key = :k"),
                                {"k": email.lower()}).first() is not None
    finally:
        engine.dispose()


def development_admin(env: dict[str, str]) -> str:
    """Sets ADMIN_EMAIL/ADMIN_PASSWORD in `env` when auth should create the development admin;
    returns the sign-in line for the banner (the password only the one time it is made)."""
    if env.get("ADMIN_EMAIL") and env.get("ADMIN_PASSWORD"):
        return f"sign in as {env['ADMIN_EMAIL']} with ADMIN_PASSWORD"
    if production(env):
        return "production mode: no development admin; set ADMIN_EMAIL and ADMIN_PASSWORD"
    if _account_exists(env, DEV_ADMIN_EMAIL):
        return (f"sign in as {DEV_ADMIN_EMAIL} with the password printed on the first run "
                "(lost it? set ADMIN_EMAIL and ADMIN_PASSWORD to reset it)")
    password = secrets.token_urlsafe(18)
    env["ADMIN_EMAIL"], env["ADMIN_PASSWORD"] = DEV_ADMIN_EMAIL, password
    return (f"development admin created: {DEV_ADMIN_EMAIL} / {password}\n"
            "    (shown this once; it is not stored anywhere else)")


def banner(base: str, sign_in: str) -> str:
    return "\n".join([
        "", "The suite is up.",
        f"  API:      {base}   (health: {base}/readyz)",
        f"  docs:     {base}/docs   (OpenAPI: {base}/openapi.json)",
        f"  admin:    {sign_in}",
        f"  sign in:  curl -s {base}/auth/login -H 'Content-Type: application/json' "
        "-d '{\"email\": \"...\", \"password\": \"...\"}'",
        "  demo data: `make demo` in another terminal; Ctrl-C here stops everything", ""])


def wait_ready(base: str, timeout: float, stopping: threading.Event) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stopping.is_set():
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{base}/readyz",
                                                                  timeout=2) as answer:
            if answer.status == 200:
                return True
        time.sleep(0.5)
    return False

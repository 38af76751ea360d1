"""CSRF tokens bound to the session cookie (OWASP's signed double-submit pattern).

token = HMAC-SHA256(WEB_SECRET, sid). A cross-site page can make the browser send the cookie
(or, with SameSite=Lax, not even that on a POST) but cannot read it nor compute the token.
Anonymous visitors get a `sid` too, so sign-in and sign-up forms are protected the same way.
"""

from __future__ import annotations

import hashlib
import hmac

FIELD = "csrf"


def token(secret: str, sid: str) -> str:
    return hmac.new(secret.encode(), f"csrf:{sid}".encode(), hashlib.sha256).hexdigest()


def valid(secret: str, sid: str, sent: object) -> bool:
    return isinstance(sent, str) and hmac.compare_digest(token(secret, sid), sent)

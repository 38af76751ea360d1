"""The admin's user directory: `list_users`, newest first, searchable, keyset-paged.

The cursor is opaque to clients: base64url of `<created_at ISO>|<id>` of the last user on the
page. The search matches a substring of the email or the display name, case-insensitively.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from typing import Any

from pydantic import Field

from auth.schemas import _Strict, parse, user_json
from auth.use_cases import Deps
from shared.errors import ValidationFailed

After = tuple[dt.datetime, uuid.UUID]


class UserSearch(_Strict):
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=200)
    q: str | None = Field(default=None, max_length=200)


def encode_cursor(created_at: dt.datetime, user_id: uuid.UUID) -> str:
    raw = f"{created_at.isoformat()}|{user_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> After:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, user_id = raw.partition("|")
        return dt.datetime.fromisoformat(stamp), uuid.UUID(user_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed("The request does not match the schema.",
                               [{"field": "cursor", "message": "not a cursor from this API"}]
                               ) from None


def list_users(deps: Deps, **payload: Any) -> dict[str, Any]:
    search = parse(UserSearch, **payload)
    after = decode_cursor(search.cursor) if search.cursor else None
    query = (search.q or "").strip() or None
    with deps.store.transaction() as tx:
        found = tx.users.search(query, after, search.limit + 1)
    page, more = found[:search.limit], len(found) > search.limit
    last = page[-1] if page else None
    return {"items": [user_json(user) for user in page],
            "next_cursor": encode_cursor(last.created_at, last.id) if more and last else None}

"""What the RPCs return: auth's records as the JSON documents of the contract (docs/api)."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from typing import Any

from auth.domain import TokenPair, UserRecord


def user_json(user: UserRecord) -> dict[str, Any]:
    return {"id": str(user.id), "email": user.email, "display_name": user.display_name,
            "roles": list(user.roles), "created_at": user.created_at}


def pair_json(pair: TokenPair) -> dict[str, Any]:
    return {"access_token": pair.access_token, "token_type": pair.token_type,
            "expires_in": pair.expires_in, "refresh_token": pair.refresh_token}


def encode_cursor(created_at: dt.datetime, user_id: uuid.UUID) -> str:
    raw = f"{created_at.isoformat()}|{user_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def users_page(page: list[UserRecord], more: bool) -> dict[str, Any]:
    """`{items, next_cursor}`: the cursor names the last user shown when more follow."""
    last = page[-1] if page else None
    return {"items": [user_json(user) for user in page],
            "next_cursor": encode_cursor(last.created_at, last.id) if more and last else None}

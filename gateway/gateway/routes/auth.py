"""Auth routes (http-api.md, Auth): each is one RPC to the auth service.

Access tokens are verified here, locally (gateway.security); the auth service checks the same
token again for what it protects itself (`me`, `set_roles`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from gateway import upstream
from gateway.routing import JsonRoute
from gateway.schemas import NO_NUL, StrictModel, problem_responses
from gateway.security import current_admin, current_user
from shared import display_names
from shared.tokens import Identity

router = APIRouter(prefix="/auth", tags=["auth"], route_class=JsonRoute)  # 415 for non-JSON

Role = Literal["customer", "admin"]
BODY_ERRORS = (400, 413, 415, 422)
UPSTREAM_ERRORS = (503, 504)


class Registration(StrictModel):
    # The display-name pattern is checked with Python's `re`, as auth checks the same rule.
    model_config = ConfigDict(extra="forbid", regex_engine="python-re")

    email: str = Field(max_length=254, json_schema_extra={"format": "email"})
    password: str = Field(min_length=10, max_length=128, json_schema_extra={"format": "password"})
    display_name: str | None = Field(
        default=None, min_length=1, max_length=100, pattern=display_names.PATTERN,
        description="Not blank; no control, format or private-use characters.")


class Credentials(StrictModel):
    email: str = Field(min_length=1, max_length=320, pattern=NO_NUL)
    password: str = Field(min_length=1, max_length=1024, json_schema_extra={"format": "password"})


class RefreshRequest(StrictModel):
    refresh_token: str = Field(min_length=1, max_length=512)


class RoleChange(StrictModel):
    roles: list[Role] = Field(max_length=8, description="The user's complete set of roles.")


class User(BaseModel):
    id: uuid.UUID
    email: str
    display_name: str | None
    roles: list[Role]
    created_at: dt.datetime


class TokenPair(BaseModel):
    access_token: str = Field(description="EdDSA-signed JWT; send it as `Authorization: Bearer`.")
    token_type: Literal["Bearer"]
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str = Field(description="Opaque and single-use: each refresh rotates it; "
                                           "presenting a spent one revokes its whole family.")


class Jwk(BaseModel):
    kty: str
    crv: str
    x: str
    kid: str
    alg: str
    use: str


class Jwks(BaseModel):
    keys: list[Jwk]


def _no_store(response: Response) -> None:
    # Tokens must not be cached by anything between us and the client (RFC 6749 5.1).
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"


@router.post("/register", status_code=201, response_model=User,
             responses=problem_responses(*BODY_ERRORS, 409, 429, *UPSTREAM_ERRORS),
             summary="Create an account (role customer)")
async def register(request: Request, body: Registration) -> Any:
    return await upstream.call(request, "auth", "register", **body.model_dump())


@router.post("/login", response_model=TokenPair,
             responses=problem_responses(*BODY_ERRORS, 401, 429, *UPSTREAM_ERRORS),
             summary="Exchange email and password for an access and a refresh token",
             description="401 is identical for an unknown email and a wrong password. After 5 "
                         "failed attempts for one email within 15 minutes: 429 + Retry-After.")
async def login(request: Request, response: Response, body: Credentials) -> Any:
    _no_store(response)
    return await upstream.call(request, "auth", "login", **body.model_dump())


@router.post("/refresh", response_model=TokenPair,
             responses=problem_responses(*BODY_ERRORS, 401, 429, *UPSTREAM_ERRORS),
             summary="Rotate a refresh token into a new token pair")
async def refresh(request: Request, response: Response, body: RefreshRequest) -> Any:
    _no_store(response)
    return await upstream.call(request, "auth", "refresh", body.refresh_token)


@router.post("/logout", status_code=204, response_class=Response,
             responses=problem_responses(*BODY_ERRORS, 429, *UPSTREAM_ERRORS),
             summary="Revoke the refresh token's whole family (idempotent)")
async def logout(request: Request, body: RefreshRequest) -> Response:
    await upstream.call(request, "auth", "logout", body.refresh_token)
    return Response(status_code=204)


@router.get("/me", response_model=User,
            responses=problem_responses(401, 429, *UPSTREAM_ERRORS),
            summary="The signed-in user")
async def me(request: Request, _: Annotated[Identity, Depends(current_user)]) -> Any:
    return await upstream.call(request, "auth", "me")


@router.get("/jwks.json", response_model=Jwks,
            responses=problem_responses(429, *UPSTREAM_ERRORS),
            summary="The public keys that verify access tokens (JWKS)")
async def jwks(request: Request, response: Response) -> Any:
    # Verifiers may cache it briefly; rotation keeps old keys published well beyond this.
    response.headers["Cache-Control"] = "public, max-age=300"
    return await upstream.call(request, "auth", "get_jwks")


@router.put("/users/{id}/roles", response_model=User,
            responses=problem_responses(*BODY_ERRORS, 401, 403, 404, 429, *UPSTREAM_ERRORS),
            summary="Replace a user's roles (admin)")
async def set_roles(request: Request, body: RoleChange,
                    user_id: Annotated[uuid.UUID, Path(alias="id")],
                    _: Annotated[Identity, Depends(current_admin)]) -> Any:
    return await upstream.call(request, "auth", "set_roles", str(user_id), list(body.roles))

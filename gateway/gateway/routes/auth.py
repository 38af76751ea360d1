"""Auth routes (http-api.md, Auth): each is one RPC to the auth service.

Access tokens are verified here, locally (gateway.security); the auth service checks the same
token again for what it protects itself (`me`, `set_roles`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway import upstream
from gateway.openapi_responses import BODY, UPSTREAM, body_example, problems, success
from gateway.routing import JsonRoute
from gateway.schemas import NO_NUL, StrictModel
from gateway.security import current_admin, current_user
from shared import display_names
from shared.tokens import Identity

router = APIRouter(prefix="/auth", tags=["auth"], route_class=JsonRoute)  # 415 for non-JSON

Role = Literal["customer", "admin"]
NO_STORE = success(200, "Cache-Control")


class Registration(StrictModel):
    # The display-name pattern is checked with Python's `re`, as auth checks the same rule.
    model_config = ConfigDict(extra="forbid", regex_engine="python-re")

    email: str = Field(max_length=254, json_schema_extra={"format": "email"})
    password: str = Field(min_length=10, max_length=128, json_schema_extra={"format": "password"})
    display_name: str | None = Field(
        default=None, min_length=1, max_length=100, pattern=display_names.BMP_PATTERN,
        description=display_names.RULE, json_schema_extra={"format": display_names.FORMAT})

    @field_validator("display_name")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        # The pattern covers the Basic Multilingual Plane only (portable regexes); this, all.
        if value is not None and not display_names.acceptable(value):
            raise ValueError("display name must be printable and not blank")
        return value


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


@router.post("/register", status_code=201, response_model=User, operation_id="register",
             responses=problems(*BODY, 409, *UPSTREAM), summary="Create an account",
             description="Every new account has the role `customer`. 409 if the email is "
                         "taken, whatever its case.",
             openapi_extra=body_example({"email": "ada@example.com",
                                         "password": "correct horse battery",
                                         "display_name": "Ada"}))
async def register(request: Request, body: Registration) -> Any:
    return await upstream.call(request, "auth", "register", **body.model_dump())


@router.post("/login", response_model=TokenPair, operation_id="login",
             responses={**NO_STORE, **problems(*BODY, 401, *UPSTREAM)},
             openapi_extra=body_example({"email": "ada@example.com",
                                         "password": "correct horse battery"}),
             summary="Exchange email and password for an access and a refresh token",
             description="401 is identical for an unknown email and a wrong password. After 5 "
                         "failed attempts for one email within 15 minutes: 429 + Retry-After.")
async def login(request: Request, response: Response, body: Credentials) -> Any:
    _no_store(response)
    return await upstream.call(request, "auth", "login", **body.model_dump())


@router.post("/refresh", response_model=TokenPair, operation_id="refreshTokens",
             responses={**NO_STORE, **problems(*BODY, 401, *UPSTREAM)},
             summary="Rotate a refresh token into a new token pair",
             description="The presented refresh token is spent. Presenting a spent one again "
                         "revokes its whole family: 401, and the newest token of the family "
                         "stops working too.",
             openapi_extra=body_example({"refresh_token": "rt_2mS0xq"}))
async def refresh(request: Request, response: Response, body: RefreshRequest) -> Any:
    _no_store(response)
    return await upstream.call(request, "auth", "refresh", body.refresh_token)


@router.post("/logout", status_code=204, response_class=Response, operation_id="logout",
             responses=problems(*BODY, *UPSTREAM),
             summary="Revoke the refresh token's whole family (idempotent)",
             description="204 for an unknown or spent token too: the answer tells nothing "
                         "about the token.",
             openapi_extra=body_example({"refresh_token": "rt_2mS0xq"}))
async def logout(request: Request, body: RefreshRequest) -> Response:
    await upstream.call(request, "auth", "logout", body.refresh_token)
    return Response(status_code=204)


@router.get("/me", response_model=User, operation_id="getMe",
            responses=problems(401, *UPSTREAM), summary="The signed-in user",
            description="The account of the access token's subject.")
async def me(request: Request, _: Annotated[Identity, Depends(current_user)]) -> Any:
    return await upstream.call(request, "auth", "me")


@router.get("/jwks.json", response_model=Jwks, operation_id="getJwks",
            responses={**success(200, "Cache-Control"), **problems(*UPSTREAM)},
            summary="The public keys that verify access tokens (JWKS)",
            description="Verify access tokens locally with these (EdDSA, Ed25519); newest key "
                        "first. Cacheable for 5 minutes.")
async def jwks(request: Request, response: Response) -> Any:
    # Verifiers may cache it briefly; rotation keeps old keys published well beyond this.
    response.headers["Cache-Control"] = "public, max-age=300"
    return await upstream.call(request, "auth", "get_jwks")


@router.put("/users/{id}/roles", response_model=User, operation_id="setUserRoles",
            responses=problems(*BODY, 401, 403, 404, *UPSTREAM),
            summary="Replace a user's roles (admin)",
            description="The roles sent become the user's complete set. 422 for an unknown "
                        "role or an id that is not a UUID.",
            openapi_extra=body_example({"roles": ["customer", "admin"]}))
async def set_roles(request: Request, body: RoleChange,
                    user_id: Annotated[uuid.UUID, Path(alias="id")],
                    _: Annotated[Identity, Depends(current_admin)]) -> Any:
    return await upstream.call(request, "auth", "set_roles", str(user_id), list(body.roles))

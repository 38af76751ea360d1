"""Auth's typed errors: the shared.errors meanings (shared/errors/auth.py) in auth's words."""

from __future__ import annotations

from shared.errors import BadCredentials, EmailTaken, LoginThrottled, TokenRejected, UserNotFound


def email_taken() -> EmailTaken:
    return EmailTaken("An account with this email already exists.")


def bad_credentials() -> BadCredentials:
    # The same words for an unknown email and a wrong password: no account oracle.
    return BadCredentials("The email or password is incorrect.")


def refresh_rejected() -> TokenRejected:
    return TokenRejected("The refresh token is invalid, expired or revoked.")


def account_gone() -> TokenRejected:
    return TokenRejected("The account no longer exists.")


def user_not_found() -> UserNotFound:
    return UserNotFound("No such user.")


def login_throttled(retry_after: int) -> LoginThrottled:
    return LoginThrottled("Too many failed sign-ins for this email; try again later.",
                          extra={"retry_after": retry_after})

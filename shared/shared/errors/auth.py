"""What the auth service's errors mean; auth words them in its use cases."""

from __future__ import annotations

from shared.errors.base import Conflict, NotFound, TooManyRequests, Unauthorized


class EmailTaken(Conflict):
    code = "email_taken"


class BadCredentials(Unauthorized):
    """Unknown email or wrong password: deliberately the same error for both."""

    code = "bad_credentials"


class TokenRejected(Unauthorized):
    """An access or refresh token that is invalid, expired or revoked."""

    code = "token_rejected"


class UserNotFound(NotFound):
    code = "user_not_found"


class LoginThrottled(TooManyRequests):
    code = "login_throttled"

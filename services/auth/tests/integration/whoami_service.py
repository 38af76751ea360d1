"""A test-only service other than auth that trusts callers through shared.nameko.principal:
test_principal.py runs it with auth in one `nameko run` process."""

from __future__ import annotations

from typing import Any

from shared.nameko.principal import Principal
from shared.nameko.rpc import ServiceRpc, rpc


class WhoAmIService:
    name = "whoami"
    principal = Principal()
    auth = ServiceRpc("auth", timeout=5)

    @rpc  # type: ignore[untyped-decorator]
    def whoami(self) -> dict[str, Any]:
        identity = self.principal.identity()
        return {"user_id": identity.user_id, "roles": list(identity.roles)}

    @rpc  # type: ignore[untyped-decorator]
    def admin_only(self) -> str:
        return self.principal.require_role("admin").user_id

    @rpc  # type: ignore[untyped-decorator]
    def me_via_auth(self) -> Any:
        return self.auth.me()  # the caller's token travels on with the context

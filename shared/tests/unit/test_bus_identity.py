"""Identity on the bus without a broker: who sent a message, retried copies, revocations."""

from __future__ import annotations

import pytest

from shared.errors import Unauthorized
from shared.messaging import names
from shared.messaging.delivery import Delivery, RetryPolicy, retry_copy
from shared.messaging.identity import component_user, connection_user, sender
from shared.messaging.topology import SUBSCRIPTIONS
from shared.revocations import Revocations
from shared.token_cache import VerifiedTokens
from shared.tokens import Identity

USER = "7d3f1c9e-1111-4a2b-9c3d-000000000001"


def test_the_connection_user_comes_from_the_uri_and_guest_is_the_default():
    assert connection_user("amqp://pay%40ments:pw@broker:5672/suite") == "pay@ments"
    assert connection_user("amqp://broker/") == "guest"


def test_a_component_user_is_its_name_unless_configured(monkeypatch):
    assert component_user("catalog") == "catalog"
    monkeypatch.setenv("CATALOG_BUS_USER", "prod-catalog")
    assert component_user("catalog") == "prod-catalog"


def test_the_sender_is_the_verified_user_id_or_nobody():
    assert sender({"user_id": b"payments"}) == "payments"
    assert sender({"user_id": ""}) is None
    assert sender(None) is None


def test_a_retried_copy_keeps_naming_its_original_publisher():
    original = Delivery.received(b"{}", "application/json", {"user_id": "payments"}, {},
                                 own_user="catalog")
    copy = retry_copy(SUBSCRIPTIONS[0], original, "boom", RetryPolicy())
    assert copy.headers[names.ORIGINAL_USER] == "payments"
    back = Delivery.received(b"{}", "application/json", {"user_id": "catalog"}, copy.headers,
                             own_user="catalog")
    assert back.publisher == "payments"


def test_only_the_subscriber_itself_can_claim_an_original_publisher():
    forged = Delivery.received(b"{}", "application/json", {"user_id": "gateway"},
                               {names.ORIGINAL_USER: "payments"}, own_user="catalog")
    assert forged.publisher == "gateway"


class Verifier:
    def __init__(self, identity: Identity) -> None:
        self.identity = identity

    def verify_expiring(self, token: str) -> tuple[Identity, int]:
        return self.identity, 10**10


def test_a_revocation_refuses_earlier_tokens_even_from_the_cache():
    revocations = Revocations()
    tokens = VerifiedTokens(Verifier(Identity(USER, ("admin",), issued_ms=1_000)),  # type: ignore[arg-type]
                            revocations=revocations)
    assert tokens.verify("t").user_id == USER  # cached from here on
    assert revocations.apply({"user_id": USER, "not_before_ms": 1_001})
    with pytest.raises(Unauthorized):
        tokens.verify("t")


def test_a_token_issued_after_the_revocation_counts():
    revocations = Revocations()
    revocations.revoke(USER, 1_000)
    revocations.revoke(USER, 500)  # an older revocation never moves the line back
    tokens = VerifiedTokens(Verifier(Identity(USER, (), issued_ms=1_000)),  # type: ignore[arg-type]
                            revocations=revocations)
    assert tokens.verify("t").user_id == USER


@pytest.mark.parametrize("payload", [{}, {"user_id": USER}, {"user_id": USER,
                                                              "not_before_ms": "1"}])
def test_a_malformed_revocation_is_refused(payload):
    assert not Revocations().apply(payload)

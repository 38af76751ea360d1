"""Issue 15, the bus: an outside AMQP client with another component's real credentials (the
users `make run` provisions, deploy/rabbitmq/permissions.json) attacks the running suite.

Where topic permissions stop an attack at the broker, the same attack is also tried by an
outside user the broker lets through (the tests' own `guest`, full rights on the test vhost):
the services must refuse it themselves (callers, reply senders, event owners).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pika
import pika.exceptions
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.settings import token_settings
from shared.tokens import ACCESS_TOKEN_TYPE, ALGORITHM
from tests.security.conftest import PASSWORD, Actor, login, new_customer
from tests.security.test_forged_amqp import PlainRpc

REFUSED = (pika.exceptions.ChannelClosedByBroker, pika.exceptions.ProbableAccessDeniedError)
REVOCATION_DEADLINE = 5.0


def channel(uri: str) -> pika.adapters.blocking_connection.BlockingChannel:
    return pika.BlockingConnection(pika.URLParameters(uri)).channel()


def user_of(uri: str) -> str:
    return str(pika.URLParameters(uri).credentials.username)


def _refused(attempt: Any) -> str:
    with pytest.raises(REFUSED) as refused:
        attempt()
    return str(refused.value)


# --- least privilege at the broker --------------------------------------------------------

def test_no_component_can_bind_hash_on_the_rpc_exchange(suite, component_uris):
    for name, uri in component_uris.items():
        ch = channel(uri)
        queue = f"rpc.reply-{name}-{uuid.uuid4()}"
        ch.queue_declare(queue, exclusive=True, auto_delete=True)
        reason = _refused(lambda ch=ch, queue=queue: ch.queue_bind(queue, "nameko-rpc",
                                                                   routing_key="#"))
        assert "ACCESS_REFUSED" in reason, (name, reason)
        ch.connection.close()


def test_nobody_but_the_called_service_can_read_its_requests(suite, component_uris):
    for name, uri in component_uris.items():
        for target in ("auth.login", "auth.*", "catalog.*", "payments.*"):
            if target.startswith(f"{name}."):
                continue
            ch = channel(uri)
            queue = f"rpc.reply-{name}-{uuid.uuid4()}"
            ch.queue_declare(queue, exclusive=True, auto_delete=True)
            _refused(lambda ch=ch, q=queue, t=target: ch.queue_bind(q, "nameko-rpc",
                                                                    routing_key=t))
            ch.connection.close()


def test_service_users_cannot_publish_to_the_default_exchange(suite, component_uris):
    for name, uri in component_uris.items():
        ch = channel(uri)
        ch.confirm_delivery()
        reason = _refused(lambda ch=ch: ch.basic_publish(
            "", "rpc-catalog", b'{"args": [], "kwargs": {}}',
            pika.BasicProperties(content_type="application/json")))
        assert "amq.default" in reason, (name, reason)
        ch.connection.close()


def test_the_gateway_user_can_only_call_public_rpcs(suite, component_uris):
    ch = channel(component_uris["gateway"])
    ch.confirm_delivery()
    reason = _refused(lambda: ch.basic_publish(
        "nameko-rpc", "catalog.reserve_stock", b'{"args": [], "kwargs": {}}',
        pika.BasicProperties(content_type="application/json", user_id="gateway")))
    assert "catalog.reserve_stock" in reason


# --- privileged RPCs ----------------------------------------------------------------------

def _stock(http: httpx.Client, product_id: str) -> int:
    return int(http.get(f"/products/{product_id}").json()["available"])


@pytest.mark.parametrize("method", ["reserve_stock", "commit_reservation",
                                    "release_reservation"])
def test_stock_reservation_rpcs_are_for_payments_alone(suite, http, product, amqp_uri,
                                                       component_uris, method):
    before = _stock(http, product["id"])
    reservation = str(uuid.uuid4())
    args: list[Any] = [reservation]
    if method == "reserve_stock":
        args.append([{"product_id": product["id"], "quantity": before}])
    for name in ("gateway", "auth"):  # real credentials: the broker refuses the publish
        ch = channel(component_uris[name])
        ch.confirm_delivery()
        user = user_of(component_uris[name])
        _refused(lambda ch=ch, user=user: ch.basic_publish(
            "nameko-rpc", f"catalog.{method}", json.dumps({"args": args, "kwargs": {}}).encode(),
            pika.BasicProperties(content_type="application/json", user_id=user)))
        ch.connection.close()
    outsider = PlainRpc(amqp_uri)  # a user the broker lets publish: catalog refuses it
    try:
        reply = outsider.call("catalog", method, {}, *args)
    finally:
        outsider.close()
    assert reply["result"] is None
    assert reply["error"]["exc_type"] == "Forbidden", reply
    assert _stock(http, product["id"]) == before
    assert f"refused catalog.{method} from broker user guest" in suite.log()


# --- events ---------------------------------------------------------------------------------

def test_a_forged_refund_event_is_not_applied(suite, http, product, alices_payment, amqp_uri,
                                              component_uris):
    event = {"event_id": str(uuid.uuid4()), "schema_version": 1,
             "occurred_at": "2026-01-01T00:00:00Z", "payment_id": alices_payment["id"],
             "refund_id": str(uuid.uuid4()), "amount": alices_payment["amount"],
             "currency": alices_payment["currency"], "restock": True}
    body = json.dumps(event).encode()
    before = _stock(http, product["id"])
    for name in ("gateway", "catalog", "auth"):  # not payments' user: no write on its events
        ch = channel(component_uris[name])
        ch.confirm_delivery()
        _refused(lambda ch=ch: ch.basic_publish(
            "payments.events", "payment_refunded", body,
            pika.BasicProperties(content_type="application/json", delivery_mode=2)))
        ch.connection.close()
    ch = channel(amqp_uri)  # an outsider the broker lets publish: catalog parks it
    ch.confirm_delivery()
    ch.basic_publish("payments.events", "payment_refunded", body,
                     pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                          message_id=event["event_id"]))
    ch.connection.close()
    deadline = time.monotonic() + 10
    while "published by broker user (none), not payments" not in suite.log():
        assert time.monotonic() < deadline, "the forged event was neither parked nor logged"
        time.sleep(0.2)
    assert _stock(http, product["id"]) == before


# --- key sets ---------------------------------------------------------------------------------

class JwksSpoofer:
    """Sees every `auth.get_jwks` request (a leak, simulated with the tests' own user) and
    answers each at once, with catalog's real credentials, with the attacker's key set."""

    def __init__(self, observer_uri: str, attacker_uri: str, jwks: dict[str, Any]) -> None:
        self.observer = channel(observer_uri)
        self.queue = self.observer.queue_declare("", exclusive=True).method.queue
        self.observer.queue_bind(self.queue, "nameko-rpc", routing_key="auth.get_jwks")
        self.attacker = channel(attacker_uri)
        self.user = user_of(attacker_uri)
        self.body = json.dumps({"result": jwks, "error": None}).encode()
        self.answered = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for _, props, _body in self.observer.consume(self.queue, auto_ack=True,
                                                         inactivity_timeout=0.2):
                if props is None or self._stop.is_set():
                    break
                self.attacker.basic_publish("nameko-rpc", props.reply_to, self.body,
                                            pika.BasicProperties(
                                                content_type="application/json",
                                                correlation_id=props.correlation_id,
                                                user_id=self.user))
                self.answered += 1
        self.observer.cancel()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def evil_key() -> Iterator[tuple[Ed25519PrivateKey, str, dict[str, Any]]]:
    key = Ed25519PrivateKey.generate()
    kid = f"evil-{uuid.uuid4().hex[:8]}"
    x = jwt.utils.base64url_encode(key.public_key().public_bytes_raw()).decode()
    yield key, kid, {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": x,
                               "alg": ALGORITHM, "use": "sig"}]}


def test_a_spoofed_key_set_reply_is_not_believed(suite, http, admin, amqp_uri, component_uris,
                                                 evil_key):
    key, kid, jwks = evil_key
    now = int(time.time())
    forged = jwt.encode({"iss": token_settings().auth_issuer, "aud": token_settings().auth_audience,
                         "sub": admin.id, "iat": now, "exp": now + 600,
                         "jti": uuid.uuid4().hex, "roles": ["customer", "admin"]},
                        key, algorithm=ALGORITHM, headers={"kid": kid, "typ": ACCESS_TOKEN_TYPE})
    spoofer = JwksSpoofer(amqp_uri, component_uris["catalog"], jwks)
    try:
        statuses = []
        for _ in range(3):  # each verifier fetches again on an unknown kid, every 5 s at most
            response = http.post("/products", headers={"Authorization": f"Bearer {forged}"},
                                 json={"sku": f"EVIL-{uuid.uuid4().hex[:8]}", "name": "Evil",
                                       "price": 1, "stock": 1})
            statuses.append(response.status_code)
            time.sleep(5.5)
    finally:
        spoofer.stop()
    assert spoofer.answered > 0, "the attack never ran: no key-set request was seen"
    assert statuses == [401, 401, 401], statuses
    assert "dropped a reply from broker user catalog; expected auth" in suite.log()
    # ...and the real keys still work: nothing was replaced.
    assert http.get("/auth/me", headers=admin.headers).status_code == 200


# --- revocation -------------------------------------------------------------------------------

def _refused_within(http: httpx.Client, request: Any, deadline: float) -> float:
    started = time.monotonic()
    while True:
        response = request()
        if response.status_code in (401, 403):
            elapsed = time.monotonic() - started
            print(f"refused {elapsed:.2f} s after the revocation")
            return elapsed
        assert time.monotonic() - started < deadline, f"still {response.status_code}"
        time.sleep(0.1)


def test_a_demoted_admin_is_refused_within_five_seconds(http, admin):
    dana = new_customer(http, "dana")
    promoted = http.put(f"/auth/users/{dana.id}/roles", headers=admin.headers,
                        json={"roles": ["customer", "admin"]})
    assert promoted.status_code == 200, promoted.text
    token = login(http, dana.email, PASSWORD)["access_token"]
    as_admin = Actor(dana.id, dana.email, token, "")

    def create() -> httpx.Response:
        return http.post("/products", headers=as_admin.headers, json={
            "sku": f"DANA-{uuid.uuid4().hex[:8]}", "name": "Dana's", "price": 100, "stock": 1})

    assert create().status_code == 201  # an admin now, and the token is cached everywhere
    demoted = http.put(f"/auth/users/{dana.id}/roles", headers=admin.headers,
                       json={"roles": ["customer"]})
    assert demoted.status_code == 200, demoted.text
    assert _refused_within(http, create, REVOCATION_DEADLINE) < REVOCATION_DEADLINE


def test_a_logged_out_token_is_refused_within_five_seconds(http):
    erin = new_customer(http, "erin")
    assert http.get("/payments", headers=erin.headers).status_code == 200
    out = http.post("/auth/logout", json={"refresh_token": erin.refresh_token})
    assert out.status_code == 204, out.text
    elapsed = _refused_within(http, lambda: http.get("/payments", headers=erin.headers),
                              REVOCATION_DEADLINE)
    assert elapsed < REVOCATION_DEADLINE
    # A new login after the logout works at once.
    fresh = login(http, erin.email, PASSWORD)["access_token"]
    assert http.get("/payments", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200

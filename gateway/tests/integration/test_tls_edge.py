"""TLS at the edge and to the broker, with a self-signed certificate made here.

- `python -m gateway` with GATEWAY_TLS_CERT/GATEWAY_TLS_KEY serves HTTPS (and HSTS), not HTTP.
- amqps://: a TLS-terminating proxy in front of the real RabbitMQ (the broker's own listeners
  are left alone). The gateway's RPC client (pika) and a nameko service (kombu, as the
  services run) both speak AMQP over TLS through it, trusting the certificate they are given.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.rpc import RpcClient
from tests.support.faultproxy import FaultProxy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from edge_support import running_gateway


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class TlsProxy(FaultProxy):
    """FaultProxy that terminates TLS: amqps:// in front, plain AMQP to the real broker."""

    def __init__(self, target_host: str, target_port: int, context: ssl.SSLContext) -> None:
        super().__init__(target_host, target_port)
        self.context = context

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, self.host, self.port,
                                                      ssl=self.context)
            self.port = self._server.sockets[0].getsockname()[1]

    def amqps_uri(self, uri: str) -> str:
        return self.uri(uri).replace("amqp://", "amqps://", 1)


@pytest.fixture
def cert(tmp_path) -> tuple[Path, Path]:
    return self_signed(tmp_path)


@pytest.fixture
def tls_proxy(amqp_uri, cert):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*cert)
    parts = urlsplit(amqp_uri)
    with TlsProxy(parts.hostname or "127.0.0.1", parts.port or 5672, context) as proxy:
        yield proxy


def test_gateway_serves_https_with_hsts(suite_env, cert, tmp_path):
    cert_path, key_path = cert
    env = {**suite_env, "GATEWAY_TLS_CERT": str(cert_path), "GATEWAY_TLS_KEY": str(key_path)}
    with running_gateway(env, tmp_path / "gateway.log", tls=True, verify=str(cert_path)) as gw:
        response = httpx.get(f"{gw.url}/healthz", verify=str(cert_path), timeout=5)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        assert response.headers["strict-transport-security"].startswith("max-age=31536000")
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        with pytest.raises(httpx.HTTPError):  # the TLS port speaks no plain HTTP
            httpx.get(gw.url.replace("https://", "http://", 1) + "/healthz", timeout=5)
        with pytest.raises(httpx.ConnectError):  # and an untrusted certificate is refused
            httpx.get(f"{gw.url}/healthz", timeout=5)


def test_gateway_rpc_client_speaks_amqps(probe, tls_proxy, amqp_uri, cert):
    uri = f"{tls_proxy.amqps_uri(amqp_uri)}?cafile={cert[0]}"

    async def scenario():
        client = RpcClient(uri, timeout=5)
        await client.start()
        try:
            return client.connected, await client.call("probe", "echo", "over", tls=True)
        finally:
            await client.stop()

    connected, echoed = asyncio.run(scenario())
    assert connected
    assert echoed["args"] == ["over"] and echoed["kwargs"] == {"tls": True}


def test_nameko_service_speaks_amqps(make_probe, tls_proxy, amqp_uri, suite_env, cert,
                                     monkeypatch):
    # The services' kombu connections trust the CA in SSL_CERT_FILE (or nameko's AMQP_SSL).
    monkeypatch.setitem(suite_env, "SSL_CERT_FILE", str(cert[0]))
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))  # the readiness check's client, here
    name = f"tlsprobe{uuid.uuid4().hex[:8]}"
    service = make_probe(name, amqp_uri=tls_proxy.amqps_uri(amqp_uri))
    service.start()
    assert tls_proxy.connections > 0, "the service is connected through the TLS proxy"

    async def call_over_plain_amqp():
        client = RpcClient(amqp_uri, timeout=5)
        await client.start()
        try:
            return await client.call(name, "echo", "hello")
        finally:
            await client.stop()

    assert asyncio.run(call_over_plain_amqp())["args"] == ["hello"]

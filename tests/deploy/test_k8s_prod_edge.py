"""The prod overlay's edge (issue 15): the public Ingress routes the public API and nothing
else, forwarded headers are trusted from an explicit range only, and auth cannot start without
its signing keys from a Secret; no overlay commits a credential."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from gateway.app import create_app
from gateway.config import GatewaySettings
from tests.deploy.support import K8S, find, generated, kustomize, one

INTERNAL = ("/healthz", "/readyz", "/metrics", "/_bench")


def routed(ingress: dict[str, Any], path: str) -> bool:
    """Whether the Ingress sends `path` to the gateway (Prefix matches whole segments)."""
    for rule in ingress["spec"]["rules"]:
        for entry in rule["http"]["paths"]:
            prefix = entry["path"].rstrip("/")
            if entry["pathType"] == "Exact" and path == entry["path"]:
                return True
            if entry["pathType"] == "Prefix" and (path == prefix or path.startswith(prefix + "/")):
                return True
    return False


def api_paths() -> set[str]:
    app = create_app(GatewaySettings(AMQP_URI="amqp://127.0.0.1:1/", GATEWAY_BENCH_ROUTES=True))
    return {re.sub(r"\{[^}]+\}", "x", path) for path in app.openapi()["paths"]}


def test_the_public_ingress_routes_the_api_but_not_readiness_nor_metrics() -> None:
    (ingress,) = find(kustomize("prod"), "Ingress")
    for path in ("/readyz", "/metrics", "/healthz", "/_bench/ping/auth", "/"):
        assert not routed(ingress, path), path
    for path in api_paths():
        assert routed(ingress, path) != path.startswith(INTERNAL), path
    assert routed(ingress, "/docs") and routed(ingress, "/openapi.json")


def test_forwarded_headers_are_trusted_from_an_explicit_range_only() -> None:
    config = generated(kustomize("prod"), "ConfigMap", "gateway-config")["data"]
    proxies = config["GATEWAY_TRUSTED_PROXIES"]
    assert "*" not in proxies
    networks = [ipaddress.ip_network(entry.strip()) for entry in proxies.split(",")]
    assert all(network.is_private for network in networks)
    assert "FORWARDED_ALLOW_IPS" not in config
    GatewaySettings(GATEWAY_TRUSTED_PROXIES=proxies)  # the gateway starts with it


def test_auth_takes_its_signing_keys_from_a_secret_and_requires_them() -> None:
    prod = kustomize("prod")
    assert generated(prod, "ConfigMap", "suite-config")["data"][
        "AUTH_REQUIRE_SIGNING_KEYS"] == "true"
    container = one(prod, "Deployment", "auth")["spec"]["template"]["spec"]["containers"][0]
    (keys,) = [e for e in container.get("env", []) if e["name"] == "AUTH_SIGNING_KEYS"]
    reference = keys["valueFrom"]["secretKeyRef"]
    assert reference == {"name": "auth-secrets", "key": "AUTH_SIGNING_KEYS", "optional": False}


def test_the_prod_overlay_commits_no_credential() -> None:
    for path in (K8S / "overlays/prod").rglob("*"):
        if path.is_file():
            text = path.read_text().lower()
            assert not re.search(r"password\s*[:=]|passwd|amqps?://[^@\s]+:[^@\s]+@", text), path
            assert "private key" not in text, path

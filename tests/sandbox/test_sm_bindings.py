"""Service Manager bindings: credential shapes, x509 certificates, the mTLS token endpoint (§B.1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from btp_infra.sandbox import SandboxConfig, SandboxServer

from .helpers import Api, wait_until

BINDINGS = "/v1/service_bindings"


@pytest.fixture
def instance(api: Api) -> tuple[dict[str, Any], str]:
    creds = api.operator_ready()
    return creds, str(api.create_instance(creds, "operator")["id"])


def bind(api: Api, creds: dict[str, Any], instance_id: str, **extra: Any) -> requests.Response:
    body = {"name": "binding", "service_instance_id": instance_id, **extra}
    return api.sm(creds, "POST", BINDINGS, params={"async": "false"}, json=body)


def test_client_secret_credentials(api: Api, instance: tuple[dict[str, Any], str]) -> None:
    creds, instance_id = instance
    reply = bind(api, creds, instance_id, labels={"tenant": ["a"]})
    assert reply.status_code == 201
    binding = reply.json()
    assert set(binding["credentials"]) == {"clientid", "clientsecret", "url", "sm_url", "xsappname"}
    assert binding["credentials"]["sm_url"] == creds["sm_url"]
    assert (binding["service_instance_id"], binding["labels"]) == (instance_id, {"tenant": ["a"]})
    again = api.sm(creds, "GET", f"{BINDINGS}/{binding['id']}").json()
    assert again["credentials"] == binding["credentials"]


def test_async_binding_has_no_credentials_until_ready(api: Api, instance: tuple[dict[str, Any], str]) -> None:
    creds, instance_id = instance
    reply = api.sm(creds, "POST", BINDINGS, json={"name": "b", "service_instance_id": instance_id})
    assert reply.status_code == 202
    location = reply.headers["Location"]
    assert location.startswith(BINDINGS + "/")
    path = location.split("/operations/")[0]
    first = api.sm(creds, "GET", path).json()
    assert first["ready"] is False and "credentials" not in first
    assert api.operation(creds, location)["state"] == "succeeded"
    assert "clientsecret" in api.sm(creds, "GET", path).json()["credentials"]


def test_binding_to_unknown_instance_is_404(api: Api) -> None:
    assert bind(api, api.admin(), "nope").status_code == 404


def test_binding_patch_and_delete(api: Api, instance: tuple[dict[str, Any], str]) -> None:
    creds, instance_id = instance
    binding = bind(api, creds, instance_id).json()
    path = f"{BINDINGS}/{binding['id']}"
    patched = api.sm(creds, "PATCH", path, json={"labels": [{"op": "add", "key": "k", "values": ["v"]}]})
    assert (patched.status_code, patched.json()["labels"]) == (200, {"k": ["v"]})
    assert api.sm(creds, "PATCH", path, json={"parameters": {}}).status_code == 400
    reply = api.sm(creds, "DELETE", path)
    assert reply.status_code == 202
    wait_until(lambda: api.sm(creds, "GET", path).status_code == 404)
    assert api.sm(creds, "DELETE", path).status_code == 404
    # the binding's client is gone too
    c = binding["credentials"]
    assert api.token(c["url"], c["clientid"], c["clientsecret"], basic=False).status_code == 401


def test_failed_delete_keeps_the_binding(
    api: Api, sb: SandboxServer, instance: tuple[dict[str, Any], str]
) -> None:
    creds, instance_id = instance
    binding = bind(api, creds, instance_id).json()
    sb.inject_fault(
        "DELETE", "/sm/v1/service_bindings/{id}", kind="operation_failed", description="unbind failed"
    )
    reply = api.sm(creds, "DELETE", f"{BINDINGS}/{binding['id']}")
    op = api.operation(creds, reply.headers["Location"])
    assert (op["type"], op["state"], op["description"]) == ("delete", "failed", "unbind failed")
    again = api.sm(creds, "GET", f"{BINDINGS}/{binding['id']}").json()
    assert (again["ready"], again["last_operation"]["state"]) == (True, "failed")


def x509_binding(api: Api, instance: tuple[dict[str, Any], str], **options: Any) -> dict[str, Any]:
    creds, instance_id = instance
    params: dict[str, Any] = {"credential-type": "x509"}
    if options:
        params["x509"] = options
    reply = bind(api, creds, instance_id, parameters=params)
    assert reply.status_code == 201, reply.text
    credentials: dict[str, Any] = reply.json()["credentials"]
    return credentials


def test_x509_credentials_are_real_certificates(
    api: Api, sb: SandboxServer, instance: tuple[dict[str, Any], str]
) -> None:
    c = x509_binding(api, instance)
    assert set(c) == {"clientid", "certificate", "key", "certurl", "sm_url", "xsappname"}
    assert c["certurl"].startswith(str(sb.tls_url) + "/uaa/")
    chain = x509.load_pem_x509_certificates(c["certificate"].encode())
    ca = x509.load_pem_x509_certificate(sb.ca_pem.encode())
    leaf = chain[0]
    assert leaf.issuer == ca.subject
    ca_key = ca.public_key()
    assert isinstance(ca_key, ec.EllipticCurvePublicKey)
    leaf.verify_directly_issued_by(ca)
    lifetime = leaf.not_valid_after_utc - datetime.now(UTC)
    assert timedelta(days=6, hours=23) < lifetime <= timedelta(days=7)  # SAP's default: 7 DAYS
    assert "PRIVATE KEY" in c["key"]


def test_x509_validity_parameters(api: Api, instance: tuple[dict[str, Any], str]) -> None:
    c = x509_binding(api, instance, validity=2, **{"validity-type": "HOURS"})
    leaf = x509.load_pem_x509_certificates(c["certificate"].encode())[0]
    assert leaf.not_valid_after_utc - datetime.now(UTC) <= timedelta(hours=2)
    creds, instance_id = instance
    bad = bind(
        api, creds, instance_id, parameters={"credential-type": "x509", "x509": {"validity-type": "WEEKS"}}
    )
    assert bad.status_code == 400


def test_mtls_token_with_the_binding_certificate(
    api: Api, sb: SandboxServer, instance: tuple[dict[str, Any], str], tmp_path: Path
) -> None:
    c = x509_binding(api, instance)
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text(c["certificate"])
    key.write_text(c["key"])
    data = {"grant_type": "client_credentials", "client_id": c["clientid"]}
    url = c["certurl"] + "/oauth/token"
    with requests.Session() as http:
        reply = http.post(url, data=data, cert=(str(cert), str(key)), verify=sb.ca_path)
        assert reply.status_code == 200
        token = reply.json()["access_token"]
        # the token works against SM (this binding is of the platform-scoped operator-access plan)
        plans = http.get(c["sm_url"] + "/v1/service_plans", headers=api.bearer(token))
        assert plans.status_code == 200
        # a certificate authenticates only its own client
        other = {"grant_type": "client_credentials", "client_id": api.admin()["clientid"]}
        assert http.post(url, data=other, cert=(str(cert), str(key)), verify=sb.ca_path).status_code == 401
    # without a client certificate the TLS handshake fails
    with pytest.raises(requests.exceptions.RequestException):
        requests.post(url, data=data, verify=sb.ca_path, timeout=5)
    # the plain listener does not accept certificate-only authentication
    plain = url.replace(str(sb.tls_url), sb.url)
    assert requests.post(plain, data=data, timeout=5).status_code == 401


def test_x509_needs_the_tls_listener() -> None:
    with SandboxServer(SandboxConfig(tls=False)) as server:
        api = Api(server)
        sub = server.config.subaccounts[0].guid
        creds = api.operator_ready(sub)
        instance_id = str(api.create_instance(creds, "operator")["id"])
        reply = bind(api, creds, instance_id, parameters={"credential-type": "x509"})
        assert reply.status_code == 400
        assert server.tls_url is None
        api.http.close()

"""Credential models: parsing, error messages (source + key path, never a value), secret hiding."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from btp_infra.btp.errors import ServiceKeyError
from btp_infra.btp.keys import (
    CisServiceKey,
    ClientSecretBindingCredentials,
    ServiceManagerCredentials,
    X509BindingCredentials,
    parse_binding_credentials,
)

SECRET = "cis-Secret-Value-0123456789"
KEY_PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC-private\n-----END PRIVATE KEY-----\n"

VALID: dict[str, Any] = {
    "endpoints": {
        "accounts_service_url": "https://accounts-service.cfapps.eu10.hana.ondemand.com",
        "entitlements_service_url": "https://entitlements-service.cfapps.eu10.hana.ondemand.com/",
        "provisioning_service_url": "https://provisioning-service.cfapps.eu10.hana.ondemand.com",
    },
    "grant_type": "client_credentials",
    "sap.cloud.service": "com.sap.core.commercial.service.central",
    "uaa": {
        "clientid": "sb-ut-1234!b1|cis-central!b14",
        "clientsecret": SECRET,
        "url": "https://my-ga.authentication.eu10.hana.ondemand.com",
        "identityzone": "my-ga",
    },
}


def shaped(path: str, value: object = ..., *, delete: bool = False) -> dict[str, Any]:
    doc = copy.deepcopy(VALID)
    *parents, last = path.split(".")
    target = doc
    for part in parents:
        target = target[part]
    if delete:
        del target[last]
    else:
        target[last] = value
    return doc


def test_valid_key_parses_from_text_bytes_and_mapping() -> None:
    for raw in (json.dumps(VALID), json.dumps(VALID).encode(), VALID):
        key = CisServiceKey.parse(raw, source="test")
        assert key.uaa.clientid == VALID["uaa"]["clientid"]
        assert key.uaa.clientsecret.get_secret_value() == SECRET
        assert key.token_url == "https://my-ga.authentication.eu10.hana.ondemand.com/oauth/token"
        assert key.entitlements_service_url.endswith("hana.ondemand.com")  # trailing slash dropped
        assert key.accounts_service_url == VALID["endpoints"]["accounts_service_url"]


def test_loopback_http_is_allowed() -> None:
    doc = shaped("uaa.url", "http://127.0.0.1:8123/uaa/ga")
    doc["endpoints"]["accounts_service_url"] = "http://localhost:8123/accounts-service"
    key = CisServiceKey.parse(doc, source="sandbox")
    assert key.uaa.url == "http://127.0.0.1:8123/uaa/ga"


MALFORMED: list[tuple[str, object, str]] = [
    ("not json", "{not json", "not valid JSON"),
    ("empty text", "", "not valid JSON"),
    ("json array", "[1, 2]", "must be a JSON object, got list"),
    ("json string", '"a-key"', "must be a JSON object, got str"),
    ("wrong python type", 42, "expected JSON text or a mapping"),
    ("bad utf-8", b"\xff\xfe{", "not UTF-8"),
    ("missing uaa", shaped("uaa", delete=True), "uaa missing"),
    ("uaa not object", shaped("uaa", "uaa-text"), "uaa must be a JSON object"),
    ("missing clientid", shaped("uaa.clientid", delete=True), "uaa.clientid missing"),
    ("missing clientsecret", shaped("uaa.clientsecret", delete=True), "uaa.clientsecret missing"),
    ("missing uaa url", shaped("uaa.url", delete=True), "uaa.url missing"),
    ("clientid wrong type", shaped("uaa.clientid", 12345), "uaa.clientid must be a string"),
    ("clientsecret wrong type", shaped("uaa.clientsecret", ["x"]), "uaa.clientsecret must be a string"),
    ("empty clientsecret", shaped("uaa.clientsecret", "  "), "uaa.clientsecret must not be empty"),
    ("missing endpoints", shaped("endpoints", delete=True), "endpoints missing"),
    (
        "missing accounts url",
        shaped("endpoints.accounts_service_url", delete=True),
        "endpoints.accounts_service_url missing",
    ),
    (
        "missing entitlements url",
        shaped("endpoints.entitlements_service_url", delete=True),
        "endpoints.entitlements_service_url missing",
    ),
    (
        "http url",
        shaped("uaa.url", "http://my-ga.authentication.eu10.hana.ondemand.com"),
        "uaa.url must be an https",
    ),
    (
        "ftp url",
        shaped("endpoints.accounts_service_url", "ftp://accounts.example.com"),
        "endpoints.accounts_service_url must be an https",
    ),
    ("relative url", shaped("uaa.url", "/oauth"), "uaa.url must be an absolute URL"),
]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(raw, expected) for _, raw, expected in MALFORMED],
    ids=[name for name, _, _ in MALFORMED],
)
def test_malformed_keys_name_source_and_path_never_values(raw: object, expected: str) -> None:
    with pytest.raises(ServiceKeyError) as info:
        CisServiceKey.parse(raw, source="env BTP_CIS_SERVICE_KEY")  # type: ignore[arg-type]
    message = str(info.value)
    assert message.startswith("env BTP_CIS_SERVICE_KEY:")
    assert expected in message
    for secret_like in (SECRET, "uaa-text", "12345", "my-ga.authentication", "{not json"):
        assert secret_like not in message
    # No chained exception may carry the document (json.JSONDecodeError.doc, pydantic input values).
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or info.value.__suppress_context__


def test_several_problems_are_reported_together() -> None:
    doc = shaped("uaa.clientsecret", delete=True)
    del doc["endpoints"]["accounts_service_url"]
    with pytest.raises(ServiceKeyError) as info:
        CisServiceKey.parse(doc, source="key.json")
    assert "uaa.clientsecret missing" in str(info.value)
    assert "endpoints.accounts_service_url missing" in str(info.value)


def test_secrets_are_hidden_in_repr_str_and_dump() -> None:
    key = CisServiceKey.parse(VALID, source="test")
    for text in (repr(key), str(key), str(key.model_dump()), key.model_dump_json(), repr(key.uaa)):
        assert SECRET not in text


SM = {
    "clientid": "sb-admin!b1",
    "clientsecret": SECRET,
    "sm_url": "https://service-manager.cfapps.eu10.hana.ondemand.com",
    "url": "https://sub-1.authentication.eu10.hana.ondemand.com",
    "xsappname": "admin!b1",
}


def test_service_manager_credentials() -> None:
    creds = ServiceManagerCredentials.parse(json.dumps(SM), source="POST serviceManagementBinding")
    assert creds.token_url == "https://sub-1.authentication.eu10.hana.ondemand.com/oauth/token"
    assert SECRET not in repr(creds) and SECRET not in str(creds.model_dump())
    with pytest.raises(ServiceKeyError, match="sm_url missing"):
        ServiceManagerCredentials.parse({k: v for k, v in SM.items() if k != "sm_url"}, source="x")


def test_binding_credentials_client_secret_shape() -> None:
    creds = parse_binding_credentials(SM, source="binding b1")
    assert isinstance(creds, ClientSecretBindingCredentials)
    assert creds.url == SM["url"] and creds.clientsecret.get_secret_value() == SECRET
    assert SECRET not in repr(creds)


def test_binding_credentials_x509_shape() -> None:
    raw = {
        "clientid": "sb-x509!b1",
        "certificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        "key": KEY_PEM,
        "certurl": "https://sub-1.authentication.cert.eu10.hana.ondemand.com",
        "sm_url": "https://service-manager.cfapps.eu10.hana.ondemand.com",
        "xsappname": "x!b1",
    }
    creds = parse_binding_credentials(raw, source="binding b2")
    assert isinstance(creds, X509BindingCredentials)
    assert creds.token_url == "https://sub-1.authentication.cert.eu10.hana.ondemand.com/oauth/token"
    assert "PRIVATE" not in repr(creds) and "PRIVATE" not in str(creds.model_dump())
    assert creds.key.get_secret_value() == KEY_PEM and not hasattr(creds, "clientsecret")
    with pytest.raises(ServiceKeyError, match=r"binding b3: .*key missing"):
        parse_binding_credentials({k: v for k, v in raw.items() if k != "key"}, source="binding b3")

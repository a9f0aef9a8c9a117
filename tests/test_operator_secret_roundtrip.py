"""``operator_secret.binding_credentials`` reads an operator Secret back as the binding credentials it was
written from (``secret_data``'s inverse), so verify reaches Service Manager through the client with exactly
the credentials the operator uses."""

from __future__ import annotations

import pytest

from btp_infra.btp.keys import parse_binding_credentials
from btp_infra.operator_secret import binding_credentials, secret_data

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
BINDINGS = {
    "client-secret": {
        "clientid": "sb-op!b1",
        "clientsecret": "s3cr3t-value",
        "url": "https://tenant.authentication.eu10.hana.ondemand.com",
        "sm_url": "https://service-manager.cfapps.eu10.hana.ondemand.com",
    },
    "x509": {
        "clientid": "sb-op!b1",
        "certificate": PEM,
        "key": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
        "certurl": "https://tenant.authentication.cert.eu10.hana.ondemand.com",
        "sm_url": "https://service-manager.cfapps.eu10.hana.ondemand.com",
    },
}


@pytest.mark.parametrize("credential_type", sorted(BINDINGS))
def test_a_secret_reads_back_as_its_binding(credential_type: str) -> None:
    binding = BINDINGS[credential_type]
    back = binding_credentials(secret_data(binding, credential_type), credential_type)  # type: ignore[arg-type]
    assert back == binding
    parsed = parse_binding_credentials(back, source="test")
    assert parsed.token_url.startswith(binding.get("url", binding.get("certurl", "")))


def test_missing_keys_are_left_for_the_parser_to_name() -> None:
    assert binding_credentials({"clientid": "x"}, "client-secret") == {"clientid": "x"}

"""The SAP BTP Service Operator's credentials Secret: names, labels and keys (btp-api.md §0, §A.1, §A.2).

Pure data and mapping, shared by the component, the policy rules and the offline plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from btp_infra.conventions import (
    LABEL_OPERATOR_CONFIG,
    LABEL_OPERATOR_MANAGED,
    OPERATOR_SECRET_BASE_NAME,
    OPERATOR_SECRET_VALUE_KEYS,
    TOKEN_URL_SUFFIX,
)

CredentialType = Literal["client-secret", "x509"]
Placement = Literal["namespace", "management"]

SECRET_BASE_NAME = OPERATOR_SECRET_BASE_NAME
#: ``services.cloud.sap.com/config``: our users ask for it (SAP Community pattern); the operator itself
#: selects secrets by name only (§0.1).
LABEL_CONFIG = LABEL_OPERATOR_CONFIG
#: ``services.cloud.sap.com/managed-by-sap-btp-operator``: needed by the operator's limited-cache mode, which
#: Kyma enables by default (§A.4).
LABEL_MANAGED_BY_OPERATOR = LABEL_OPERATOR_MANAGED
SECRET_LABELS: dict[str, str] = {LABEL_CONFIG: "true", LABEL_MANAGED_BY_OPERATOR: "true"}
__all__ = [
    "LABEL_CONFIG",
    "LABEL_MANAGED_BY_OPERATOR",
    "REQUIRED_KEYS",
    "SECRET_BASE_NAME",
    "SECRET_LABELS",
    "SECRET_VALUE_KEYS",
    "TOKEN_URL_SUFFIX",
    "CredentialType",
    "Placement",
    "secret_data",
    "secret_name",
    "secret_namespace",
    "strip_token_suffix",
]

REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "client-secret": ("clientid", "clientsecret", "sm_url", "tokenurl", "tokenurlsuffix"),
    "x509": ("clientid", "tls.crt", "tls.key", "sm_url", "tokenurl", "tokenurlsuffix"),
}
#: Keys whose values are credentials (never printed).
SECRET_VALUE_KEYS = OPERATOR_SECRET_VALUE_KEYS


def secret_name(namespace: str, placement: Placement) -> str:
    """``sap-btp-service-operator`` in the namespace, or ``<ns>-sap-btp-service-operator`` in management."""
    return SECRET_BASE_NAME if placement == "namespace" else f"{namespace}-{SECRET_BASE_NAME}"


def secret_namespace(namespace: str, placement: Placement, management_namespace: str) -> str:
    """Where the operator looks for the tenant's Secret (§A.1 steps 1 and 2)."""
    return namespace if placement == "namespace" else management_namespace


def strip_token_suffix(url: str) -> str:
    """The bare auth URL: the operator appends ``tokenurlsuffix`` verbatim (§0.4)."""
    url = url.rstrip("/")
    return url[: -len(TOKEN_URL_SUFFIX)] if url.endswith(TOKEN_URL_SUFFIX) else url


def binding_credentials(data: Mapping[str, str], credential_type: str) -> dict[str, str]:
    """The binding credentials an operator Secret's ``data`` stands for (the inverse of :func:`secret_data`,
    for :func:`~btp_infra.btp.keys.parse_binding_credentials`): ``url``/``certurl`` = ``tokenurl``.
    Keys the Secret lacks are left out (the parser then names them)."""
    renames = {"clientid": "clientid", "sm_url": "sm_url"}
    if credential_type == "x509":
        renames |= {"tls.crt": "certificate", "tls.key": "key", "tokenurl": "certurl"}
    else:
        renames |= {"clientsecret": "clientsecret", "tokenurl": "url"}
    return {field: data[key] for key, field in renames.items() if key in data}


def secret_data(credentials: Mapping[str, Any], credential_type: CredentialType) -> dict[str, str]:
    """Map a ``service-operator-access`` binding's credentials to the operator Secret's keys.

    client-secret: ``clientid``, ``clientsecret``, ``sm_url``, ``tokenurl`` = binding ``url``;
    x509: ``clientid``, ``tls.crt`` = ``certificate``, ``tls.key`` = ``key``, ``sm_url``,
    ``tokenurl`` = ``certurl``.
    Raises ``KeyError`` naming the missing binding field (never a value).
    """
    required: tuple[str, ...] = ("clientid", "sm_url", "url", "clientsecret")
    if credential_type == "x509":
        required = ("clientid", "sm_url", "certurl", "certificate", "key")
    missing = [k for k in required if not credentials.get(k)]
    if missing:
        raise KeyError(f"the {credential_type} binding credentials lack {', '.join(missing)}")
    data = {
        "clientid": str(credentials["clientid"]),
        "sm_url": str(credentials["sm_url"]),
        "tokenurlsuffix": TOKEN_URL_SUFFIX,
    }
    if credential_type == "x509":
        data["tls.crt"] = str(credentials["certificate"])
        data["tls.key"] = str(credentials["key"])
        data["tokenurl"] = strip_token_suffix(str(credentials["certurl"]))
    else:
        data["clientsecret"] = str(credentials["clientsecret"])
        data["tokenurl"] = strip_token_suffix(str(credentials["url"]))
    return data

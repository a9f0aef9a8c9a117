"""Builders for policy tests: valid tenant resources as plain dicts, and analyzer requests from them."""

from __future__ import annotations

import base64
import copy
from collections.abc import Mapping, Sequence
from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime import proto

from btp_infra.operator_secret import SECRET_LABELS, TOKEN_URL_SUFFIX

NS = "tenant-a"
SUBACCOUNT = "553bcbbb-e809-450f-82db-60de3ef76b1f"
#: Values that must never show up in a violation message.
CLIENT_SECRET = "cs-5f7e1c2a-known-client-secret"
TLS_KEY = "-----BEGIN PRIVATE KEY-----known-tls-key-----END PRIVATE KEY-----"
TOKEN_HOST = "https://tenant-a.authentication.eu10.hana.ondemand.com"
SM_URL = "https://service-manager.cfapps.eu10.hana.ondemand.com"
SIG = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # pulumi's unknown-string sentinel

T_NAMESPACE = "kubernetes:core/v1:Namespace"
T_SECRET = "kubernetes:core/v1:Secret"


def urn(type_: str, name: str, stack: str = "dev") -> str:
    return f"urn:pulumi:{stack}::btp-infra::btp-infra:index:TenantNamespace${type_}::{name}"


def envelope(value: Any) -> dict[str, Any]:
    """The wire form of a secret value."""
    return {SIG: SECRET_SIG, "value": value}


def namespace_props(name: str = NS, subaccount: str = SUBACCOUNT, **extra_labels: str) -> dict[str, Any]:
    labels = {
        "istio-injection": "enabled",
        "btp-infra.io/tenant": name,
        "btp-infra.io/subaccount": subaccount,
        "app.kubernetes.io/managed-by": "btp-infra",
        **extra_labels,
    }
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def client_secret_data() -> dict[str, str]:
    return {
        "clientid": "sb-operator-access!b1",
        "clientsecret": CLIENT_SECRET,
        "sm_url": SM_URL,
        "tokenurl": TOKEN_HOST,
        "tokenurlsuffix": TOKEN_URL_SUFFIX,
    }


def x509_data() -> dict[str, str]:
    return {
        "clientid": "sb-operator-access!b1",
        "tls.crt": "-----BEGIN CERTIFICATE-----c-----END CERTIFICATE-----",
        "tls.key": TLS_KEY,
        "sm_url": SM_URL,
        "tokenurl": "https://tenant-a.authentication.cert.eu10.hana.ondemand.com",
        "tokenurlsuffix": TOKEN_URL_SUFFIX,
    }


def secret_props(
    *,
    tenant: str = NS,
    placement: str = "namespace",
    management: str = "kyma-system",
    data: Mapping[str, str] | None = None,
    wrap: bool = False,
) -> dict[str, Any]:
    name = "sap-btp-service-operator" if placement == "namespace" else f"{tenant}-sap-btp-service-operator"
    namespace = tenant if placement == "namespace" else management
    string_data: Any = dict(client_secret_data() if data is None else data)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {**SECRET_LABELS, "btp-infra.io/tenant": tenant},
        },
        "stringData": envelope(string_data) if wrap else string_data,
    }


def as_base64_data(props: dict[str, Any]) -> dict[str, Any]:
    """The same Secret with ``data`` (base64) instead of ``stringData``."""
    out = copy.deepcopy(props)
    string_data = out.pop("stringData")
    out["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in string_data.items()}
    return out


def struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(values)
    return s


def analyze_request(type_: str, name: str, props: Mapping[str, Any], *, protect: bool = False) -> Any:
    return proto.AnalyzeRequest(
        type=type_,
        urn=urn(type_, name),
        name=name,
        properties=struct(props),
        options=proto.AnalyzerResourceOptions(protect=protect),
    )


def stack_resource(
    type_: str, name: str, props: Mapping[str, Any], *, dependencies: Sequence[str] = (), parent: str = ""
) -> Any:
    return proto.AnalyzerResource(
        type=type_,
        urn=urn(type_, name),
        name=name,
        properties=struct(props),
        options=proto.AnalyzerResourceOptions(),
        parent=parent,
        dependencies=list(dependencies),
    )


def messages(diagnostics: Sequence[Any]) -> str:
    return "\n".join(d.message for d in diagnostics)

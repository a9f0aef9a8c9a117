"""Binding credentials and the OAuth clients behind them (btp-api.md §B.1, §C.3).

client-secret shape: ``{clientid, clientsecret, url, sm_url, xsappname}``; x509 shape:
``{clientid, certificate, key, certurl, sm_url, xsappname}``; ``sm_url`` only for ``service-manager``.
Token scope by plan: ``subaccount-admin`` → ``sm-admin``, ``service-operator-access`` → ``sm-platform``,
others → ``none``. x509 parameters:
``{"x509": {"key-length": 2048, "validity": 7, "validity-type": "DAYS"}}`` (SAP's defaults; ``MONTHS``
and ``YEARS`` too and, an emulator extension for rotation tests, ``HOURS``/``MINUTES``).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from btp_infra.sandbox.catalog import PlanSpec
from btp_infra.sandbox.errors import sm_error
from btp_infra.sandbox.state import OAuthClient, Scope, Subaccount, Urls
from btp_infra.sandbox.tls import IssuedCertificate

_UNITS = {"MINUTES": 60, "HOURS": 3600, "DAYS": 86400, "MONTHS": 30 * 86400, "YEARS": 365 * 86400}
_KEY_LENGTHS = frozenset({2048, 3072, 4096})


@dataclass(frozen=True)
class X509Request:
    key_length: int
    validity: timedelta


def credential_request(parameters: dict[str, Any]) -> X509Request | None:
    """The x509 request in binding parameters, or None for client-secret credentials; 400 when invalid."""
    kind = parameters.get("credential-type", "binding-secret")
    if kind in ("binding-secret", "instance-secret"):
        return None
    if kind != "x509":
        raise sm_error(400, "credential-type must be 'binding-secret' or 'x509'")
    options = parameters.get("x509") or {}
    if not isinstance(options, dict):
        raise sm_error(400, "x509 parameters must be an object")
    key_length, validity, unit = (
        options.get("key-length", 2048),
        options.get("validity", 7),
        options.get("validity-type", "DAYS"),
    )
    if key_length not in _KEY_LENGTHS:
        raise sm_error(400, "x509.key-length must be one of 2048, 3072, 4096")
    if not isinstance(validity, int) or isinstance(validity, bool) or validity < 1 or unit not in _UNITS:
        raise sm_error(
            400, "x509.validity must be a positive integer and validity-type one of " + ", ".join(_UNITS)
        )
    return X509Request(int(key_length), timedelta(seconds=validity * _UNITS[unit]))


def scope_for(plan: PlanSpec) -> Scope:
    if plan.service != "service-manager":
        return "none"
    return "sm-admin" if plan.plan == "subaccount-admin" else "sm-platform"


def new_app_id(plan: PlanSpec) -> str:
    """An XSUAA-like ``xsappname``; the client id is ``sb-<xsappname>``."""
    return f"{uuid.uuid4()}!b{secrets.randbelow(90000) + 10000}|{plan.service}!b1"


def make_credentials(
    urls: Urls, subaccount: Subaccount, plan: PlanSpec, app_id: str, cert: IssuedCertificate | None
) -> tuple[dict[str, Any], OAuthClient]:
    """Credentials for a new binding of ``plan`` and the OAuth client that will accept them."""
    client_id = f"sb-{app_id}"
    secret = None if cert else secrets.token_urlsafe(24)
    client = OAuthClient(
        client_id=client_id,
        secret=secret,
        subdomain=subaccount.subdomain,
        subaccount=subaccount.guid,
        scope=scope_for(plan),
        cert_serials={cert.serial} if cert else set(),
    )
    creds: dict[str, Any] = {"clientid": client_id}
    if cert is None:
        creds["clientsecret"] = secret
        creds["url"] = f"{urls.origin}/uaa/{subaccount.subdomain}"
    else:
        creds["certificate"] = cert.certificate_pem
        creds["key"] = cert.key_pem
        creds["certurl"] = f"{urls.tls_origin}/uaa/{subaccount.subdomain}"
    if plan.service == "service-manager":
        creds["sm_url"] = f"{urls.origin}/sm"
    creds["xsappname"] = app_id
    return creds, client

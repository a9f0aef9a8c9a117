"""``POST /uaa/{subdomain}/oauth/token`` — XSUAA client-credentials tokens (btp-api.md §B.1, §C.1).

Client id/secret are accepted as HTTP basic auth or in the form body, in every identity zone (XSUAA accepts
both). A client is known only in its own zone (``subdomain``): the global account's for the cis key, the
subaccount's for binding credentials. On the TLS listener a verified client certificate issued for an x509
binding authenticates its ``client_id`` without a secret. A binding's credentials obtain tokens only
``latencies.binding_credentials`` seconds after the binding was created (default at once).
"""

import hmac
import uuid
from urllib.parse import parse_qs, unquote_plus

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from btp_infra.sandbox.auth import CLIENT_ID_STATE, basic_credentials
from btp_infra.sandbox.connection import connection_of
from btp_infra.sandbox.errors import uaa_error
from btp_infra.sandbox.runtime import Runtime
from btp_infra.sandbox.state import OAuthClient
from btp_infra.sandbox.tls import certificate_serial

_SCOPES = {
    "cis": "uaa.resource global-account.subaccount.read global-account.subaccount.create "
    "global-account.subaccount.update global-account.subaccount.delete "
    "global-account.entitlement.read global-account.entitlement.subaccount.update job.read",
    "sm-admin": "uaa.resource subaccount.service_instance.manage subaccount.service_binding.manage "
    "subaccount.service_plan.read",
    "sm-platform": "uaa.resource platform.service_instance.manage",
    "none": "uaa.resource",
}


def _find(rt: Runtime, client_id: str) -> OAuthClient | None:
    with rt.store.settled():
        client = rt.store.clients.get(client_id) or rt.store.clients.get(unquote_plus(client_id))
        return client


def router(rt: Runtime) -> APIRouter:
    api = APIRouter()

    @api.post("/uaa/{subdomain}/oauth/token")
    async def token(subdomain: str, request: Request) -> JSONResponse:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))

        def field(name: str) -> str | None:
            values = form.get(name)
            return values[0] if values else None

        grant = field("grant_type")
        if grant is None:
            raise uaa_error(400, "Missing grant type", "invalid_request")
        if grant != "client_credentials":
            raise uaa_error(400, f"Unsupported grant type: {grant}", "unsupported_grant_type")
        basic = basic_credentials(request.headers.get("authorization", ""))
        client_id, secret = basic if basic else (field("client_id"), field("client_secret"))
        if not client_id:
            raise uaa_error(401, "Full authentication is required to access this resource")
        client = _find(rt, client_id)
        if client is not None:
            setattr(request.state, CLIENT_ID_STATE, client.client_id)
        if client is None or client.subdomain != subdomain or not _authenticated(client, secret, request):
            raise uaa_error(401, "Bad credentials")
        if rt.clock.now() < client.not_before:  # a binding's new credentials, not known to XSUAA yet
            raise uaa_error(401, "Bad credentials")
        value, issued = rt.store.issue_token(client)
        return JSONResponse(
            {
                "access_token": value,
                "token_type": "bearer",
                "expires_in": int(rt.config.token_ttl),
                "scope": _SCOPES[issued.scope],
                "jti": uuid.uuid4().hex,
            },
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    return api


def _authenticated(client: OAuthClient, secret: str | None, request: Request) -> bool:
    if secret is not None:
        return client.secret is not None and hmac.compare_digest(client.secret.encode(), secret.encode())
    connection = connection_of(request.scope)
    der = connection.peer_certificate() if connection else None
    return der is not None and certificate_serial(der) in client.cert_serials

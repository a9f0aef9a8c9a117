"""Bearer-token checks for the emulated APIs.

Scopes: a ``cis`` token (global-account UAA) may call Accounts and Entitlements; an ``sm-admin`` token (a
``subaccount-admin`` binding, e.g. the serviceManagementBinding) may call Service Manager for its own
subaccount; an ``sm-platform`` token (``service-operator-access``, platform-scoped, §0.6) may read offerings
and plans but gets 403 on instances, bindings and operations. Missing, unknown, revoked or expired → 401;
valid but wrong scope → 403. Objects of another subaccount are simply not visible to an SM token (404, as
in SM). Like JWTs, issued tokens stay valid until they expire even when their binding is deleted; only new
token requests fail.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from btp_infra.sandbox.errors import error_for_path
from btp_infra.sandbox.runtime import Runtime
from btp_infra.sandbox.state import Scope

CLIENT_ID_STATE = "sandbox_client_id"


@dataclass(frozen=True)
class Principal:
    client_id: str
    scope: Scope
    subaccount: str | None

    @property
    def sm_subaccount(self) -> str:
        """The subaccount an SM token acts in (SM tokens always have one)."""
        if self.subaccount is None:
            raise RuntimeError("not a Service Manager principal")
        return self.subaccount


def bearer_token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def basic_credentials(header: str) -> tuple[str, str] | None:
    """``(client_id, secret)`` from an HTTP basic ``Authorization`` header value, or None."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


def requires(rt: Runtime, *scopes: Scope) -> Callable[[Request], Principal]:
    """A FastAPI dependency admitting live tokens with one of ``scopes``."""
    allowed = frozenset(scopes)

    def dependency(request: Request) -> Principal:
        path = request.scope["path"]
        value = bearer_token(request)
        token = rt.store.lookup_token(value) if value else None
        if token is None:
            error = error_for_path(path, 401, "missing, invalid, revoked or expired bearer token")
            error.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            raise error
        setattr(request.state, CLIENT_ID_STATE, token.client_id)
        if token.scope not in allowed:
            raise error_for_path(path, 403, "the token's client is not authorized for this operation")
        return Principal(token.client_id, token.scope, token.subaccount)

    return dependency

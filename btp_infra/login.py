"""Checking a cis service key for real before it is stored or trusted: ``btp-infra login`` and
``btp-infra credentials test``.

A usable key is of plan ``central`` of the global account (btp-api.md §C.1): its ``sap.cloud.service`` ends
with ``.central`` when the key says (cockpit keys do), and a client-credentials token for it carries the
global-account scopes btp-infra needs (:data:`REQUIRED_SCOPES`). A ``central-viewer`` key (read-only) or a
``local`` key (one subaccount) is refused with a line naming the plan that is needed. Nothing here prints
or raises key material: messages name the source, the client id and the token endpoint only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from btp_infra.btp.auth import ClientCredentialsTokenSource, TokenGrant
from btp_infra.btp.errors import BtpError
from btp_infra.credentials import CisKeyInfo, ResolvedCisKey

__all__ = ["REQUIRED_PLAN", "REQUIRED_SCOPES", "KeyCheckError", "VerifiedKey", "verify_cis_key"]

REQUIRED_PLAN: Final = "central"
#: What btp-infra does with the key: read subaccounts, assign entitlements (§C.1, §C.2).
REQUIRED_SCOPES: Final = ("global-account.subaccount.read", "global-account.entitlement.subaccount.update")

_NEEDED: Final = (
    f"btp-infra needs a cis service key of plan '{REQUIRED_PLAN}' of the global account "
    '(an instance of service cis, plan central, parameter {"grantType": "clientCredentials"})'
)


class KeyCheckError(Exception):
    """The key is not usable: no token (wrong secret, unreachable) or not a central global-account key.
    One line, never key material."""


@dataclass(frozen=True)
class VerifiedKey:
    """A key whose token was fetched and whose plan and scopes were confirmed."""

    resolved: ResolvedCisKey
    info: CisKeyInfo
    scopes: frozenset[str]


def _info(resolved: ResolvedCisKey) -> CisKeyInfo:
    if resolved.info is not None:
        return resolved.info
    key = resolved.key
    return CisKeyInfo(client_id=key.uaa.clientid, token_url=key.token_url)


def _check_declared_plan(info: CisKeyInfo, source: str) -> None:
    if info.service is None or info.service.endswith(f".{REQUIRED_PLAN}"):
        return
    plan = info.plan or info.service
    raise KeyCheckError(
        f"{source}: client {info.client_id} is a cis key of plan '{plan}' (sap.cloud.service "
        f"{info.service}), not '{REQUIRED_PLAN}'; {_NEEDED}"
    )


def _fetch(resolved: ResolvedCisKey, info: CisKeyInfo, source: str) -> TokenGrant:
    key = resolved.key
    tokens = ClientCredentialsTokenSource(
        key.token_url, key.uaa.clientid, key.uaa.clientsecret, style="basic"
    )
    try:
        return tokens.grant()
    except BtpError as err:
        if err.status == 401:
            reason = "the client id or secret is wrong (401 Bad credentials)"
        else:
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise KeyCheckError(
            f"{source}: no token for client {info.client_id} from {info.token_url}: {reason}"
        ) from None
    finally:
        tokens.close()


def verify_cis_key(resolved: ResolvedCisKey, *, source: str | None = None) -> VerifiedKey:
    """Fetch a client-credentials token for ``resolved`` and confirm it is a central global-account key.

    Raises :class:`KeyCheckError` (one line)."""
    where = source or resolved.source
    info = _info(resolved)
    _check_declared_plan(info, where)
    grant = _fetch(resolved, info, where)
    missing = [scope for scope in REQUIRED_SCOPES if not grant.has_scope(scope)]
    if missing:
        raise KeyCheckError(
            f"{where}: the token of client {info.client_id} lacks the scope(s) {', '.join(missing)}, so it "
            f"is not a '{REQUIRED_PLAN}' key of a global account (a 'central-viewer' key is read-only, a "
            f"'local' key manages one subaccount); {_NEEDED}"
        )
    return VerifiedKey(resolved, info, grant.scopes)

"""Helpers of the provider tests (fixtures are in ``conftest.py``)."""

from __future__ import annotations

from typing import Any

from emulator_fixtures import SUBACCOUNT_1, secrets_of

from btp_infra.btp.accounts import AccountsClient
from btp_infra.btp.entitlements import EntitlementsClient
from btp_infra.btp.http import PollPolicy, RetryPolicy
from btp_infra.btp.keys import CisServiceKey
from btp_infra.btp.service_manager import ServiceManagerClient
from btp_infra.conventions import OPERATOR_OFFERING, OPERATOR_PLAN
from btp_infra.sandbox import SandboxServer
from btp_infra.testing import tenants

__all__ = ["FAST_POLL", "FAST_RETRY", "OPERATOR", "Operator", "objects", "secrets_of", "stored_credentials"]

OPERATOR = (OPERATOR_OFFERING, OPERATOR_PLAN)
FAST_POLL = PollPolicy(initial=0.02, ratio=0.1, cap=0.2)
FAST_RETRY = RetryPolicy(backoff_base=0.02, backoff_cap=0.1, read_timeout=5.0)


class Operator:
    """Someone with the cis key and their own clients: prepares subaccounts and changes things out of band."""

    def __init__(self, sandbox: SandboxServer) -> None:
        self.sandbox = sandbox
        key = CisServiceKey.parse(sandbox.cis_service_key(), source="sandbox cis key")
        self.accounts = AccountsClient(key, retry_policy=FAST_RETRY, poll_policy=FAST_POLL)
        self.entitlements = EntitlementsClient(key, retry_policy=FAST_RETRY, poll_policy=FAST_POLL)
        self._sm: dict[str, ServiceManagerClient] = {}

    def operator_ready(self, subaccount: str = SUBACCOUNT_1) -> ServiceManagerClient:
        """Entitle ``service-operator-access``, create the SM admin binding; an SM client with it."""
        self.entitlements.assign(subaccount, *OPERATOR)
        return self.sm(subaccount)

    def sm(self, subaccount: str = SUBACCOUNT_1) -> ServiceManagerClient:
        if subaccount not in self._sm:
            creds, _ = self.accounts.ensure_service_management_binding(subaccount)
            self._sm[subaccount] = ServiceManagerClient(creds, retry_policy=FAST_RETRY, poll_policy=FAST_POLL)
        return self._sm[subaccount]

    def close(self) -> None:
        for client in self._sm.values():
            client.close()
        self.accounts.close()
        self.entitlements.close()


def objects(sandbox: SandboxServer, kind: str, **match: Any) -> list[dict[str, Any]]:
    """The emulator's ``kind`` objects (``instances``, ``bindings``, ...) whose fields equal ``match``."""
    return tenants.objects(sandbox.state(), kind, **match)


def stored_credentials(sandbox: SandboxServer, binding_id: str) -> dict[str, Any]:
    """A binding's credentials as the emulator stores them."""
    with sandbox.runtime.store.lock:
        return dict(sandbox.runtime.store.bindings[binding_id].credentials)

"""Helpers of the provider tests (fixtures are in ``conftest.py``)."""

from __future__ import annotations

from typing import Any

from emulator_fixtures import SUBACCOUNT_1

from btp_infra.btp.accounts import AccountsClient
from btp_infra.btp.entitlements import EntitlementsClient
from btp_infra.btp.http import PollPolicy, RetryPolicy
from btp_infra.btp.keys import CisServiceKey
from btp_infra.btp.service_manager import ServiceManagerClient
from btp_infra.sandbox import SandboxServer

OPERATOR = ("service-manager", "service-operator-access")
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
    found: list[dict[str, Any]] = sandbox.state()[kind]
    return [o for o in found if all(o.get(k) == v for k, v in match.items())]


def secrets_of(sandbox: SandboxServer) -> list[str]:
    """Every secret the emulator has issued: cis secret, binding secrets and keys, tokens."""
    found = [str(sandbox.cis_service_key()["uaa"]["clientsecret"])]
    with sandbox.runtime.store.lock:
        for binding in sandbox.runtime.store.bindings.values():
            for name in ("clientsecret", "key"):
                if binding.credentials.get(name):
                    found.append(str(binding.credentials[name]))
        found.extend(sandbox.runtime.store.tokens)
    return found


def stored_credentials(sandbox: SandboxServer, binding_id: str) -> dict[str, Any]:
    """A binding's credentials as the emulator stores them."""
    with sandbox.runtime.store.lock:
        return dict(sandbox.runtime.store.bindings[binding_id].credentials)

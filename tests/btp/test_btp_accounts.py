"""AccountsClient against the emulator: subaccounts and the SM admin binding."""

from __future__ import annotations

import threading

import pytest

from btp_infra.btp.accounts import AccountsClient
from btp_infra.btp.errors import ConflictError, NotFoundError, OperationFailedError, UnauthorizedError
from btp_infra.btp.keys import CisServiceKey
from btp_infra.sandbox import SandboxServer

from .support import api_calls, fast_retry

BINDING_ROUTE = "/accounts-service/accounts/v1/subaccounts/{guid}/serviceManagementBinding"


def test_get_and_list_subaccounts(
    accounts: AccountsClient, btp_sandbox: SandboxServer, subaccount: str
) -> None:
    sub = accounts.get_subaccount(subaccount)
    assert sub.guid == subaccount
    assert sub.subdomain == "tenant-a"
    assert sub.ready and sub.state == "OK"
    assert sub.display_name == "Tenant A"
    assert {s.guid for s in accounts.list_subaccounts()} == {
        s["guid"] for s in btp_sandbox.state()["subaccounts"]
    }


def test_unknown_subaccount_is_not_found(accounts: AccountsClient) -> None:
    with pytest.raises(NotFoundError) as info:
        accounts.get_subaccount("00000000-0000-0000-0000-000000000000")
    assert info.value.status == 404
    assert info.value.code == "20404"
    assert "not found" in (info.value.description or "")


def test_wrong_client_secret_is_unauthorized(btp_sandbox: SandboxServer) -> None:
    raw = btp_sandbox.cis_service_key()
    raw["uaa"]["clientsecret"] = "not-the-secret"
    key = CisServiceKey.parse(raw, source="t")
    with AccountsClient(key, retry_policy=fast_retry()) as client, pytest.raises(UnauthorizedError) as info:
        client.list_subaccounts()
    assert "not-the-secret" not in str(info.value)


def test_wait_for_subaccount(accounts: AccountsClient, btp_sandbox: SandboxServer, subaccount: str) -> None:
    btp_sandbox.set_subaccount_state(subaccount, "UPDATING")
    timer = threading.Timer(0.3, btp_sandbox.set_subaccount_state, args=(subaccount, "OK"))
    timer.start()
    try:
        assert accounts.wait_for_subaccount(subaccount, timeout=10).ready
    finally:
        timer.cancel()
    btp_sandbox.set_subaccount_state(subaccount, "UPDATE_FAILED", "broken")
    with pytest.raises(OperationFailedError, match="UPDATE_FAILED"):
        accounts.wait_for_subaccount(subaccount, timeout=10)


def test_admin_binding_lifecycle(
    accounts: AccountsClient, btp_sandbox: SandboxServer, subaccount: str
) -> None:
    assert accounts.get_service_management_binding(subaccount) is None
    creds, created = accounts.ensure_service_management_binding(subaccount)
    assert created
    assert creds.sm_url == f"{btp_sandbox.url}/sm"
    assert creds.url == f"{btp_sandbox.url}/uaa/tenant-a"
    with pytest.raises(ConflictError):
        accounts.create_service_management_binding(subaccount)
    again, created_again = accounts.ensure_service_management_binding(subaccount)
    assert not created_again
    assert again.clientid == creds.clientid
    assert again.clientsecret.get_secret_value() == creds.clientsecret.get_secret_value()
    fetched = accounts.get_service_management_binding(subaccount)
    assert fetched is not None and fetched.clientid == creds.clientid
    accounts.delete_service_management_binding(subaccount)
    assert accounts.get_service_management_binding(subaccount) is None
    accounts.delete_service_management_binding(subaccount)  # gone already: no error
    state = btp_sandbox.state()
    assert state["admin_bindings"] == [] and state["instances"] == [] and state["bindings"] == []


def test_lost_admin_binding_response_is_recovered(
    accounts: AccountsClient, btp_sandbox: SandboxServer, subaccount: str
) -> None:
    btp_sandbox.inject_fault("POST", BINDING_ROUTE, status=502, when="after")
    creds, created = accounts.ensure_service_management_binding(subaccount)
    assert created
    admin = btp_sandbox.state()["admin_bindings"]
    assert [a["client_id"] for a in admin] == [creds.clientid]
    assert len(api_calls(btp_sandbox, "POST", BINDING_ROUTE)) == 1


def test_admin_binding_post_reset_is_recovered_without_duplicate(
    accounts: AccountsClient, btp_sandbox: SandboxServer, subaccount: str
) -> None:
    btp_sandbox.inject_fault("POST", BINDING_ROUTE, kind="reset", when="after")
    creds = accounts.create_service_management_binding(subaccount)
    assert [a["client_id"] for a in btp_sandbox.state()["admin_bindings"]] == [creds.clientid]


def test_admin_binding_post_failing_before_is_retried(
    accounts: AccountsClient, btp_sandbox: SandboxServer, subaccount: str
) -> None:
    btp_sandbox.inject_fault("POST", BINDING_ROUTE, status=503, count=2)
    creds = accounts.create_service_management_binding(subaccount)
    assert len(api_calls(btp_sandbox, "POST", BINDING_ROUTE, at_least=3)) == 3
    assert [a["client_id"] for a in btp_sandbox.state()["admin_bindings"]] == [creds.clientid]

"""The Accounts client's subaccount lifecycle (btp-api.md §C.3a) against the emulator: create → wait for OK,
find by label (checked here even where the server filters), PATCH, delete → gone, a retried DELETE that meets
its own deletion, CREATION_FAILED with BTP's message, and a taken subdomain as a conflict."""

from __future__ import annotations

import pytest

from btp_infra.btp.accounts import AccountsClient, Subaccount
from btp_infra.btp.entitlements import EntitlementsClient
from btp_infra.btp.errors import ConflictError, NotFoundError, OperationFailedError
from btp_infra.sandbox import SandboxServer

ROUTE = "/accounts-service/accounts/v1/subaccounts"
TENANT = {"btp-infra.tenant": "orders", "btp-infra.managed-by": "btp-infra"}


def create(accounts: AccountsClient, subdomain: str = "acme-orders") -> Subaccount:
    return accounts.create_subaccount(
        display_name="Orders",
        subdomain=subdomain,
        region="eu10",
        labels={k: [v] for k, v in TENANT.items()},
        lookup=lambda: next(iter(accounts.find_subaccounts(TENANT)), None),
        timeout=30,
    )


def test_create_wait_update_delete(accounts: AccountsClient, btp_sandbox: SandboxServer) -> None:
    started = create(accounts)
    assert started.state in ("STARTED", "CREATING")
    ready = accounts.wait_for_subaccount(started.guid, timeout=30)
    assert ready.ready and ready.subdomain == "acme-orders" and ready.has_labels(TENANT)
    assert [s.guid for s in accounts.find_subaccounts(TENANT)] == [started.guid]
    assert accounts.find_subaccounts({**TENANT, "btp-infra.tenant": "billing"}) == []
    updated = accounts.update_subaccount(
        started.guid, display_name="Orders EU", labels={"a": ["b"]}, used_for_production=True, timeout=30
    )
    assert (updated.display_name, updated.labels, updated.used_for_production) == (
        "Orders EU",
        {"a": ["b"]},
        "USED_FOR_PRODUCTION",
    )
    accounts.delete_subaccount(started.guid, timeout=30)
    with pytest.raises(NotFoundError):
        accounts.get_subaccount(started.guid)
    accounts.delete_subaccount(started.guid, timeout=30)  # already gone: deleted


def test_a_lost_delete_response_is_not_an_error(accounts: AccountsClient, btp_sandbox: SandboxServer) -> None:
    guid = accounts.wait_for_subaccount(create(accounts).guid, timeout=30).guid
    btp_sandbox.inject_fault("DELETE", ROUTE + "/{guid}", status=500, when="after")
    accounts.delete_subaccount(guid, timeout=30)  # the retry meets DELETING: waits for it
    with pytest.raises(NotFoundError):
        accounts.get_subaccount(guid)


def test_creation_failed_carries_btps_message(accounts: AccountsClient, btp_sandbox: SandboxServer) -> None:
    btp_sandbox.inject_fault("POST", ROUTE, kind="operation_failed", description="No quota in eu10")
    started = create(accounts)
    with pytest.raises(OperationFailedError) as info:
        accounts.wait_for_subaccount(started.guid, timeout=30)
    assert "CREATION_FAILED" in str(info.value) and info.value.description == "No quota in eu10"


def test_a_taken_subdomain_is_a_conflict(accounts: AccountsClient) -> None:
    create(accounts, "acme-taken")
    with pytest.raises(ConflictError):
        accounts.create_subaccount(
            display_name="Other", subdomain="acme-taken", region="eu10", labels={}, lookup=lambda: None
        )


def test_list_assignments_of_a_subaccount(entitlements: EntitlementsClient, subaccount: str) -> None:
    entitlements.assign(subaccount, "service-manager", "service-operator-access")
    found = {(a.service, a.plan) for a in entitlements.list_assignments(subaccount) if not a.auto_assigned}
    assert found == {("service-manager", "service-operator-access")}

"""The ``Subaccount`` provider against the emulator (issue 14): create and wait, adopt the tenant's own after
a lost response or a crash, a taken subdomain (ours → adopted, not ours → clear error), ``CREATION_FAILED``
(BTP's message, the failed one deleted), refresh after out-of-band changes, in-place update, replacement
keys and the policy's view of them, delete only when empty, ``usedForProduction``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from emulator_fixtures import FAST
from pulumi.dynamic import CheckResult

from btp_infra.btp.errors import BtpError
from btp_infra.conventions import OPERATOR_OFFERING, OPERATOR_PLAN, SM_MANAGED_BY_LABEL, SM_TENANT_LABEL
from btp_infra.credentials import ENV_KEY
from btp_infra.policy import rules
from btp_infra.providers.subaccount_lifecycle import (
    IDENTITY_CHANGE_KEY,
    SPEC,
    SubaccountNotEmptyError,
    SubaccountProvider,
)
from btp_infra.sandbox import SandboxConfig, SandboxServer, SubaccountSeed

from .support import Operator

pytestmark = pytest.mark.usefixtures("cis_env", "fast_providers")

ROUTE = "/accounts-service/accounts/v1/subaccounts"
ONE = ROUTE + "/{guid}"
OURS = {SM_TENANT_LABEL: ["orders"], SM_MANAGED_BY_LABEL: ["btp-infra"]}


def props(**changes: Any) -> dict[str, Any]:
    inputs = {
        "displayName": "Orders",
        "subdomain": "acme-orders",
        "region": "eu10",
        "parentDirectory": None,
        "labels": {"team": ["orders"]},
        "usedForProduction": False,
        "namespace": "orders",
        "ownedPlans": ["hana-cloud/hana"],
        "allowReplacement": False,
        "timeoutSeconds": 30.0,
    }
    return {**inputs, **changes}


def subaccounts(sb: SandboxServer, **match: Any) -> list[dict[str, Any]]:
    return [s for s in sb.state()["subaccounts"] if all(s.get(k) == v for k, v in match.items())]


def create(provider: SubaccountProvider, **changes: Any) -> tuple[str, dict[str, Any]]:
    result = provider.create(props(**changes))
    assert result.id is not None and result.outs is not None
    return result.id, dict(result.outs)


def test_create_waits_for_ok_and_labels_the_tenant(sb: SandboxServer) -> None:
    guid, outs = create(SubaccountProvider())
    [sub] = subaccounts(sb, subdomain="acme-orders")
    assert (sub["guid"], sub["state"], sub["region"]) == (guid, "OK", "eu10")
    assert sub["labels"] == {"team": ["orders"], **OURS}
    assert outs["subaccountId"] == guid and outs["state"] == "OK" and outs["recovered"] is False
    assert outs["liveLabels"] == sub["labels"]
    assert {k: outs[k] for k in SPEC.inputs} == props()


@pytest.mark.parametrize("fault", [{"status": 500}, {"kind": "reset"}], ids=["500", "reset"])
def test_a_lost_create_response_is_found_by_label_not_created_twice(
    sb: SandboxServer, fault: dict[str, Any]
) -> None:
    sb.inject_fault("POST", ROUTE, when="after", **fault)
    guid, outs = create(SubaccountProvider())
    assert [s["guid"] for s in subaccounts(sb, subdomain="acme-orders")] == [guid]
    assert outs["recovered"] is True


def test_a_crash_after_create_before_state_is_written_adopts_on_rerun(sb: SandboxServer) -> None:
    first, _ = create(SubaccountProvider())  # Pulumi never recorded it: the next run creates again
    second, outs = create(SubaccountProvider())
    assert second == first and outs["recovered"] is True
    assert len(subaccounts(sb)) == 3  # the two seeds and exactly one of ours


def test_a_taken_subdomain_that_is_ours_is_adopted(sb: SandboxServer) -> None:
    # Ours, but the label lookup before the POST missed it (created in between): the conflict resolves it.
    provider = SubaccountProvider()
    calls = {"n": 0}
    real = provider._own

    def miss_first(accounts: Any, p: Any) -> Any:
        calls["n"] += 1
        return None if calls["n"] == 1 else real(accounts, p)

    sb.seed_subaccount(
        SubaccountSeed(guid="33333333-3333-4333-8333-333333333333", subdomain="acme-orders", labels=OURS)
    )
    provider._own = miss_first  # type: ignore[method-assign,assignment]
    guid, outs = create(provider)
    assert guid == "33333333-3333-4333-8333-333333333333" and outs["recovered"] is True
    assert calls["n"] == 2


def test_a_taken_subdomain_that_is_not_ours_is_a_clear_error(sb: SandboxServer) -> None:
    sb.seed_subaccount(
        SubaccountSeed(guid="33333333-3333-4333-8333-333333333333", subdomain="acme-orders", display_name="X")
    )
    with pytest.raises(BtpError) as info:
        create(SubaccountProvider())
    text = str(info.value)
    assert "subdomain 'acme-orders' is already taken in region eu10 by subaccount 33333333" in text
    assert "not tenant 'orders''s" in text and "btp-infra:subaccount.subdomain" in text
    assert len(subaccounts(sb, subdomain="acme-orders")) == 1


def test_another_subaccount_of_the_tenant_is_a_clear_error(sb: SandboxServer) -> None:
    sb.seed_subaccount(
        SubaccountSeed(guid="33333333-3333-4333-8333-333333333333", subdomain="acme-old", labels=OURS)
    )
    with pytest.raises(BtpError, match=r"already has subaccount.*acme-old in eu10.*exactly one"):
        create(SubaccountProvider())
    assert not subaccounts(sb, subdomain="acme-orders")


def test_creation_failed_fails_with_btp_message_and_removes_the_failed_one(sb: SandboxServer) -> None:
    sb.inject_fault("POST", ROUTE, kind="operation_failed", description="Region quota exhausted")
    with pytest.raises(BtpError) as info:
        create(SubaccountProvider())
    assert "create subaccount 'acme-orders' in eu10: failed" in str(info.value)
    assert "BTP says: Region quota exhausted" in str(info.value)
    assert "was deleted" in str(info.value)
    assert not subaccounts(sb, subdomain="acme-orders")
    create(SubaccountProvider())  # the subdomain is free again: a re-run converges
    assert len(subaccounts(sb, subdomain="acme-orders")) == 1


def test_refresh_reads_out_of_band_changes_and_up_patches_them_back(sb: SandboxServer) -> None:
    provider = SubaccountProvider()
    guid, outs = create(provider)
    sb.change_subaccount(guid, display_name="Renamed", labels={"team": ["other"], **OURS})
    read = provider.read(guid, outs)
    assert read.outs is not None
    refreshed = dict(read.outs)
    assert refreshed["displayName"] == "Renamed" and refreshed["labels"] == {"team": ["other"]}
    diff = provider.diff(guid, refreshed, props())
    assert diff.changes and not diff.replaces
    updated = provider.update(guid, refreshed, props())
    [sub] = subaccounts(sb, guid=guid)
    assert sub["displayName"] == "Orders" and sub["labels"] == {"team": ["orders"], **OURS}
    assert updated.outs is not None and updated.outs["displayName"] == "Orders"


def test_removed_identity_labels_show_as_drift(sb: SandboxServer) -> None:
    provider = SubaccountProvider()
    guid, outs = create(provider)
    sb.change_subaccount(guid, labels={"team": ["orders"]})
    refreshed = provider.read(guid, outs).outs
    assert refreshed is not None and provider.diff(guid, dict(refreshed), props()).changes
    provider.update(guid, dict(refreshed), props())
    assert subaccounts(sb, guid=guid)[0]["labels"] == {"team": ["orders"], **OURS}


def test_a_subaccount_deleted_out_of_band_reads_as_gone(sb: SandboxServer) -> None:
    provider = SubaccountProvider()
    guid, outs = create(provider)
    sb.remove_subaccount(guid)
    assert provider.read(guid, outs).id == ""
    provider.delete(guid, outs)  # gone is gone


def test_a_changed_region_or_subdomain_replaces_delete_first_and_is_flagged(sb: SandboxServer) -> None:
    provider = SubaccountProvider()
    guid, outs = create(provider)
    news = props(region="us10")
    checked: CheckResult = provider.check(props(), news)
    assert checked.inputs[IDENTITY_CHANGE_KEY] == {"region": {"from": "eu10", "to": "us10"}}
    diff = provider.diff(guid, outs, news)
    assert diff.replaces == ["region"] and diff.delete_before_replace
    [violation] = rules.check_subaccount_replacement("tenant-subaccount", checked.inputs)
    assert "region 'eu10' → 'us10' replaces the tenant's subaccount" in violation
    assert "btp-infra:allowSubaccountReplacement: true" in violation
    allowed = provider.check(props(), props(region="us10", allowReplacement=True)).inputs
    assert rules.check_subaccount_replacement("tenant-subaccount", allowed) == []
    # Unchanged identity: nothing recorded, nothing flagged.
    same = provider.check(props(), props(displayName="New name")).inputs
    assert IDENTITY_CHANGE_KEY not in same and rules.check_subaccount_replacement("s", same) == []


def test_a_renamed_tenant_is_refused_in_check() -> None:
    failures = SubaccountProvider().check(props(), props(namespace="billing")).failures
    assert [f.property for f in failures] == ["namespace"]


def test_delete_refuses_while_not_empty_and_lists_what_is_left(sb: SandboxServer, operator: Operator) -> None:
    provider = SubaccountProvider()
    guid, outs = create(provider)
    operator.entitlements.assign(guid, OPERATOR_OFFERING, OPERATOR_PLAN)
    sm = operator.sm(guid)
    sm.create_instance("someone-elses", offering=OPERATOR_OFFERING, plan=OPERATOR_PLAN)
    with pytest.raises(SubaccountNotEmptyError) as info:
        provider.delete(guid, outs)
    text = str(info.value)
    assert f"subaccount {guid} (acme-orders) is not empty" in text
    assert "Service Manager admin access (serviceManagementBinding)" in text
    assert "service instances someone-elses" in text
    assert f"entitlements {OPERATOR_OFFERING}/{OPERATOR_PLAN} (not declared by this stack)" in text
    assert subaccounts(sb, guid=guid)[0]["state"] == "OK"


def test_delete_of_an_empty_subaccount_borrows_access_to_check_then_deletes(sb: SandboxServer) -> None:
    provider = SubaccountProvider()
    guid, outs = create(provider)
    provider.delete(guid, outs)
    assert not subaccounts(sb, guid=guid)
    assert not sb.state()["admin_bindings"]  # the borrowed access went again


def test_used_for_production_is_never_deleted(sb: SandboxServer) -> None:
    provider = SubaccountProvider()
    guid, outs = create(provider, usedForProduction=True)
    assert subaccounts(sb, guid=guid)[0]["usedForProduction"] == "USED_FOR_PRODUCTION"
    with pytest.raises(BtpError, match="usedForProduction: false"):
        provider.delete(guid, outs)
    assert subaccounts(sb, guid=guid)


def test_the_tenants_subaccount_being_deleted_is_a_conflict_for_onboarding(sb: SandboxServer) -> None:
    sb.seed_subaccount(
        SubaccountSeed(
            guid="33333333-3333-4333-8333-333333333333",
            subdomain="acme-orders",
            labels=OURS,
            state="DELETING",
        )
    )
    with pytest.raises(BtpError, match=r"being deleted \(state DELETING\); run `pulumi up` again"):
        create(SubaccountProvider())
    assert len(subaccounts(sb, subdomain="acme-orders")) == 1


def test_where_deletions_are_restorable_delete_finishes_and_onboarding_again_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A global account that keeps deleted subaccounts restorable (pending deletion, subdomain still taken).
    with SandboxServer(SandboxConfig(pending_deletion=True, subaccounts=[], latencies=FAST)) as server:
        monkeypatch.setenv(ENV_KEY, json.dumps(server.cis_service_key()))
        provider = SubaccountProvider()
        guid, outs = create(provider)
        provider.delete(guid, outs)  # pending deletion counts as deleted: offboarding is done
        assert [s["guid"] for s in server.state()["subaccounts"]] == [guid]  # it stays, pending deletion
        assert provider.read(guid, outs).id == ""
        with pytest.raises(BtpError, match="pending deletion: restore it in the cockpit, or wait"):
            create(SubaccountProvider())
        assert len(server.state()["subaccounts"]) == 1

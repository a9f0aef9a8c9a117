"""Whole tenant stacks that create their own subaccount (issue 14), through ``LocalEngine`` on the emulator.

From nothing to a mapped namespace and back: the created subaccount labels the namespace, destroy offboards
in order (Secret → binding → instance → admin access → entitlements → subaccount) and leaves the emulator
empty; a crash at any step converges on re-run with exactly one subaccount; a subdomain held by someone else
stops the stack before anything is written; a subaccount that is not empty is refused, listing what is left;
refresh after out-of-band changes updates in place; a region change previews as a replacement of the
subaccount and its BTP chain; ``usedForProduction`` protects the whole tenant.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from btp_infra.btp.accounts import AccountsClient
from btp_infra.btp.keys import CisServiceKey
from btp_infra.btp.service_manager import ServiceManagerClient
from btp_infra.conventions import LABEL_SUBACCOUNT, OPERATOR_OFFERING, OPERATOR_PLAN, config_key
from btp_infra.providers.subaccount_lifecycle import SubaccountNotEmptyError
from btp_infra.sandbox import SandboxServer, SubaccountSeed
from btp_infra.testing import tenants
from btp_infra.testing.local_engine import LocalEngine, ProtectedResourceError

from .support import FAST_POLL, FAST_RETRY, ONE_OF_EACH, clarity_problems, emulator_secrets, is_empty

NAMESPACE = "orders"
SUBDOMAIN = "acme-orders"
ROUTE = "/accounts-service/accounts/v1/subaccounts"
#: Offboarding, in order (issue 14): operator Secret → binding → instance → admin access → entitlements →
#: subaccount.
CHAIN = (
    "tenant-operator-secret",
    "tenant-operator-access-binding",
    "tenant-operator-access",
    "tenant-sm-access",
    f"tenant-entitlement-{OPERATOR_OFFERING}/{OPERATOR_PLAN}",
    "tenant-subaccount",
)


def stack(**block: Any) -> dict[str, str]:
    """Engine-form config of a tenant that creates its subaccount (default subdomain acme-orders)."""
    subaccount = {"displayName": "Orders", "region": "eu10", **block}
    return {
        config_key("namespace"): NAMESPACE,
        config_key("kubeContext"): tenants.KUBE_CONTEXT,
        config_key("subaccount"): json.dumps(subaccount),
        config_key("subdomainPrefix"): "acme",
    }


def ours(sandbox: SandboxServer) -> list[dict[str, Any]]:
    return [s for s in sandbox.state()["subaccounts"] if s["subdomain"] == SUBDOMAIN]


def the_subaccount(sandbox: SandboxServer) -> str:
    found = ours(sandbox)
    assert len(found) == 1, found
    guid: str = found[0]["guid"]
    return guid


def namespace_labels(run: LocalEngine) -> dict[str, str]:
    [namespace] = [e for (t, _), e in run.cluster.items() if t.endswith("Namespace")]
    labels: dict[str, str] = namespace.outputs["metadata"]["labels"]
    return labels


def test_from_nothing_to_a_mapped_namespace_and_back(sandbox: SandboxServer) -> None:
    run = LocalEngine(NAMESPACE, stack())
    result = run.up()
    assert result.ok, result.render.error
    guid = the_subaccount(sandbox)
    assert tenants.exactly_one_of_each(sandbox, NAMESPACE, guid) == ONE_OF_EACH
    assert namespace_labels(run)[LABEL_SUBACCOUNT] == guid
    assert result.created[0] == "tenant-subaccount"
    deleted = run.destroy()
    order = [deleted.index(name) for name in CHAIN]
    assert order == sorted(order), deleted
    assert not ours(sandbox) and is_empty(sandbox)


def test_a_second_up_changes_nothing(sandbox: SandboxServer) -> None:
    run = LocalEngine(NAMESPACE, stack())
    assert run.up().ok
    again = run.up()
    assert again.ok and again.changes == 0
    run.destroy()


@pytest.mark.parametrize(
    ("method", "route"),
    [
        ("POST", ROUTE),
        ("POST", ROUTE + "/{guid}/serviceManagementBinding"),
        ("PUT", "/entitlements/v1/subaccountServicePlans"),
        ("POST", "/sm/v1/service_instances"),
        ("POST", "/sm/v1/service_bindings"),
    ],
    ids=["subaccount", "admin-access", "entitlement", "instance", "binding"],
)
def test_a_crash_at_each_step_converges_with_one_subaccount(
    sandbox: SandboxServer, method: str, route: str
) -> None:
    # The step's request is processed, its response lost for good: the run fails there.
    sandbox.inject_fault(method, route, status=500, when="after", count=1000)
    run = LocalEngine(NAMESPACE, stack())
    first = run.up()
    sandbox.clear_faults()
    if not first.ok:
        assert clarity_problems(first.render.error, emulator_secrets(sandbox)) == []  # type: ignore[arg-type]
    again = run.up()
    assert again.ok, again.render.error
    guid = the_subaccount(sandbox)
    assert tenants.exactly_one_of_each(sandbox, NAMESPACE, guid) == ONE_OF_EACH
    run.destroy()
    assert is_empty(sandbox) and not ours(sandbox)


def test_lost_state_after_a_whole_create_adopts_everything_and_destroys_it(sandbox: SandboxServer) -> None:
    # A crash after the creates but before any state was written: a fresh engine finds all of it again.
    assert LocalEngine(NAMESPACE, stack()).up().ok
    run = LocalEngine(NAMESPACE, stack())
    result = run.up()
    assert result.ok, result.render.error
    guid = the_subaccount(sandbox)
    assert tenants.exactly_one_of_each(sandbox, NAMESPACE, guid) == ONE_OF_EACH
    run.destroy()  # found again is still this tenant's: it goes, and the subaccount with it
    assert is_empty(sandbox) and not ours(sandbox)


def test_a_subdomain_held_by_another_subaccount_stops_before_anything_is_written(
    sandbox: SandboxServer,
) -> None:
    sandbox.seed_subaccount(
        SubaccountSeed(guid="33333333-3333-4333-8333-333333333333", subdomain=SUBDOMAIN, display_name="Other")
    )
    result = LocalEngine(NAMESPACE, stack()).up()
    assert not result.ok and "already taken in region eu10" in str(result.render.error)
    assert result.created == []
    assert is_empty(sandbox)


def test_a_subaccount_that_is_not_empty_is_refused_listing_what_is_left(sandbox: SandboxServer) -> None:
    run = LocalEngine(NAMESPACE, stack())
    assert run.up().ok
    guid = the_subaccount(sandbox)
    with someone_elses_sm(sandbox, guid) as sm:
        sm.create_instance("hand-made", offering=OPERATOR_OFFERING, plan=OPERATOR_PLAN)
    with pytest.raises(SubaccountNotEmptyError) as info:
        run.destroy()
    assert "service instances hand-made" in str(info.value)
    assert ours(sandbox), "a subaccount that is not empty is never deleted"
    assert [e.name for e in run.state.values()] == ["tenant-subaccount"]  # the rest is offboarded
    # Offboard what was left (by hand), then destroy finishes.
    with someone_elses_sm(sandbox, guid) as sm:
        found = sm.find_instance("hand-made")
        assert found is not None
        sm.delete_instance(found.id)
    run.destroy()
    assert not ours(sandbox) and is_empty(sandbox)


@contextmanager
def someone_elses_sm(sandbox: SandboxServer, guid: str) -> Iterator[ServiceManagerClient]:
    """A Service Manager client in the subaccount with admin access of its own, removed again afterwards."""
    key = CisServiceKey.parse(sandbox.cis_service_key(), source="sandbox")
    with AccountsClient(key, retry_policy=FAST_RETRY, poll_policy=FAST_POLL) as accounts:
        creds, created = accounts.ensure_service_management_binding(guid)
        try:
            with ServiceManagerClient(creds, retry_policy=FAST_RETRY, poll_policy=FAST_POLL) as sm:
                yield sm
        finally:
            if created:
                accounts.delete_service_management_binding(guid)


def test_refresh_after_out_of_band_changes_updates_in_place(sandbox: SandboxServer) -> None:
    run = LocalEngine(NAMESPACE, stack(labels={"team": "orders"}))
    assert run.up().ok
    guid = the_subaccount(sandbox)
    sandbox.change_subaccount(guid, display_name="Renamed in the cockpit", labels={"team": ["x"]})
    run.refresh()
    [entry] = [e for e in run.state.values() if e.name == "tenant-subaccount"]
    assert entry.outputs["displayName"] == "Renamed in the cockpit"
    result = run.up()
    assert result.ok and result.updated == ["tenant-subaccount"] and result.replaced == []
    [sub] = ours(sandbox)
    assert sub["displayName"] == "Orders" and sub["labels"]["team"] == ["orders"]
    assert sub["guid"] == guid
    run.destroy()


def test_an_in_place_change_previews_as_one_update_not_a_replaced_chain(sandbox: SandboxServer) -> None:
    run = LocalEngine(NAMESPACE, stack())
    assert run.up().ok
    run.config = stack(displayName="Orders (EU)")
    preview = run.preview()
    assert preview.ok, preview.render.error
    assert preview.updated == ["tenant-subaccount"] and preview.replaced == []
    run.config = stack()
    run.destroy()


def test_a_region_change_previews_as_replacing_the_subaccount_and_its_chain(sandbox: SandboxServer) -> None:
    run = LocalEngine(NAMESPACE, stack())
    assert run.up().ok
    run.config = stack(region="us10")
    preview = run.preview()
    assert preview.ok, preview.render.error
    assert "tenant-subaccount" in preview.replaced and "tenant-sm-access" in preview.replaced
    assert len(ours(sandbox)) == 1  # a preview changes nothing
    run.config = stack()
    run.destroy()


def test_used_for_production_protects_the_whole_tenant(sandbox: SandboxServer) -> None:
    run = LocalEngine(NAMESPACE, stack(usedForProduction=True))
    assert run.up().ok
    guid = the_subaccount(sandbox)
    with pytest.raises(ProtectedResourceError):
        run.destroy()
    assert tenants.exactly_one_of_each(sandbox, NAMESPACE, guid) == ONE_OF_EACH
    # Deliberately: usedForProduction false, up (PATCH, protect off), then destroy.
    run.config = stack(usedForProduction=False)
    assert run.up().ok
    assert ours(sandbox)[0]["usedForProduction"] == "NOT_USED_FOR_PRODUCTION"
    run.destroy()
    assert not ours(sandbox) and is_empty(sandbox)

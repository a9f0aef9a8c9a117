"""Destroy and refresh always finish, and refresh reports drift that ``up`` then corrects.

Gone is gone: once the subaccount is deleted (offboarding in the cockpit first), everything in it is reported
gone and treated as deleted. A subaccount that lost only its admin access is not gone: destroy borrows admin
access to delete what is still there (no orphans, nothing borrowed left behind), and refresh keeps what it
cannot check so that the next ``up`` restores the access and adopts the rest.
"""

from __future__ import annotations

import json

from emulator_fixtures import SUBACCOUNT_1

from btp_infra.btp.accounts import AccountsClient
from btp_infra.btp.entitlements import EntitlementsClient
from btp_infra.btp.keys import CisServiceKey
from btp_infra.sandbox import SandboxServer

from .support import ONE_OF_EACH, chain_objects, engine, is_empty, leftovers

HANA = ("hana-cloud", "hana")


def cis_key(sandbox: SandboxServer) -> CisServiceKey:
    return CisServiceKey.parse(json.dumps(sandbox.cis_service_key()), source="test")


def delete_subaccount(sandbox: SandboxServer, guid: str) -> None:
    """What deleting the subaccount in the cockpit does: it goes, and everything in it with it."""
    store = sandbox.runtime.store
    with store.settled():
        del store.subaccounts[guid]
        store.assignments = {k: a for k, a in store.assignments.items() if a.subaccount != guid}
        store.admin_bindings.pop(guid, None)
        store.instances = {k: i for k, i in store.instances.items() if i.subaccount != guid}
        store.bindings = {k: b for k, b in store.bindings.items() if b.subaccount != guid}
        store.clients = {k: c for k, c in store.clients.items() if c.subaccount != guid}


def test_destroy_finishes_when_the_subaccount_is_gone(sandbox: SandboxServer) -> None:
    tenant = engine()
    assert tenant.up().ok
    delete_subaccount(sandbox, SUBACCOUNT_1)
    tenant.destroy()
    assert tenant.state == {} and tenant.cluster == {}
    assert is_empty(sandbox)


def test_refresh_reports_everything_in_a_gone_subaccount_gone(sandbox: SandboxServer) -> None:
    tenant = engine()
    assert tenant.up().ok
    delete_subaccount(sandbox, SUBACCOUNT_1)
    names = sorted(e.name for e in tenant.state.values())
    dropped = tenant.refresh()
    assert sorted(dropped) == names and len(names) == 5  # every BTP object lived in the subaccount
    assert tenant.state == {}
    tenant.destroy()  # what is left (Kubernetes) goes as usual
    assert tenant.resources == {}


def test_destroy_without_admin_access_deletes_what_is_still_there(sandbox: SandboxServer) -> None:
    tenant = engine()
    assert tenant.up().ok
    with AccountsClient(cis_key(sandbox)) as accounts:
        accounts.delete_service_management_binding(SUBACCOUNT_1)  # e.g. removed in the cockpit
    assert chain_objects(sandbox.state())["instance"] == 1

    tenant.destroy()

    assert tenant.state == {}
    assert is_empty(sandbox), leftovers(sandbox)  # no orphaned instance, no borrowed admin access left


def test_refresh_without_admin_access_keeps_what_it_cannot_check_and_up_restores_it(
    sandbox: SandboxServer,
) -> None:
    tenant = engine()
    assert tenant.up().ok
    with AccountsClient(cis_key(sandbox)) as accounts:
        accounts.delete_service_management_binding(SUBACCOUNT_1)

    assert tenant.refresh() == ["tenant-sm-access"]
    healed = tenant.up()
    assert healed.ok, healed.render.error
    assert healed.created == ["tenant-sm-access"] and healed.replaced == healed.deleted == []
    assert chain_objects(sandbox.state()) == ONE_OF_EACH
    tenant.destroy()
    assert is_empty(sandbox)


def test_refresh_recovers_an_entitlement_amount_changed_out_of_band(sandbox: SandboxServer) -> None:
    declared = json.dumps([{"service": HANA[0], "plan": HANA[1], "amount": 2}])
    tenant = engine(entitlements=declared)
    assert tenant.up().ok
    with EntitlementsClient(cis_key(sandbox)) as entitlements:
        entitlements.assign(SUBACCOUNT_1, *HANA, 4)

    assert tenant.refresh() == []
    corrected = tenant.up()

    assert corrected.ok, corrected.render.error
    assert corrected.updated == ["tenant-entitlement-hana-cloud/hana"]
    amounts = [a["amount"] for a in sandbox.state()["assignments"] if a["service"] == HANA[0]]
    assert amounts == [2]
    assert tenant.up().changes == 0
    tenant.destroy()
    assert is_empty(sandbox)


def test_refresh_reports_a_subaccount_no_longer_ok(sandbox: SandboxServer) -> None:
    tenant = engine()
    assert tenant.up().ok
    sandbox.set_subaccount_state(SUBACCOUNT_1, "UPDATE_FAILED", "quota migration failed")

    assert tenant.refresh() == []
    failed = tenant.up()

    assert not failed.ok
    assert "state UPDATE_FAILED, not OK (quota migration failed)" in str(failed.render.error)
    sandbox.set_subaccount_state(SUBACCOUNT_1, "OK", "")
    assert tenant.up().ok
    tenant.destroy()


def test_refresh_reports_a_subaccount_in_another_region(sandbox: SandboxServer) -> None:
    declared = "eu10"
    tenant = engine(region=declared)
    assert tenant.up().ok
    sandbox.runtime.store.subaccounts[SUBACCOUNT_1].region = "us10"

    assert tenant.refresh() == []
    failed = tenant.up()

    assert not failed.ok
    assert "is in region us10, but btp-infra:region is eu10" in str(failed.render.error)
    sandbox.runtime.store.subaccounts[SUBACCOUNT_1].region = declared
    assert tenant.up().ok
    tenant.destroy()
    assert is_empty(sandbox)

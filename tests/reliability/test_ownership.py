"""Ownership: btp-infra deletes only what this tenant created and still owns, and never strands a tenant.

Each scenario drives whole stacks through ``LocalEngine`` (the program under mocks, every dynamic provider
executed for real against the emulator, the engine's alias, protect and delete-order rules modelled) and
checks the emulator's objects afterwards:

- a renamed namespace is refused before anything changes;
- stacks made before the stable names are adopted in place (aliases), not re-created;
- a second stack claiming a subaccount is refused before it writes anything, and its destroy leaves the
  first tenant untouched; where two tenants already share one (made before the claim check), destroying one
  keeps the other's objects, the shared admin access and the entitlement it uses;
- adopted admin access and entitlements are kept (an amount raised by the stack is given back) unless the
  stack takes ownership;
- ``protect: true`` survives ``destroy --skip-preview`` and ``--exclude-protected`` whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from emulator_fixtures import SUBACCOUNT_1, SUBACCOUNT_2

from btp_infra.btp.accounts import AccountsClient
from btp_infra.btp.entitlements import EntitlementsClient
from btp_infra.btp.keys import CisServiceKey
from btp_infra.providers import sm_access
from btp_infra.sandbox import SandboxServer
from btp_infra.testing.local_engine import LocalEngine, ProtectedResourceError

from .support import ONE_OF_EACH, OPERATOR, chain_objects, engine, is_empty, leftovers

HANA = ("hana-cloud", "hana")
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
#: Inputs and outputs a stack made before ownership tracking does not have in its state.
NEW_KEYS = {"tenant", "namespace", "takeOwnership", "adopted", "previousAmount", "tenants"}


def writes_since(sandbox: SandboxServer, since: int) -> list[str]:
    """The BTP API writes (not token requests) the emulator saw after call number ``since``."""
    return [
        f"{c['method']} {c['path']}"
        for c in sandbox.calls()[since:]
        if c["method"] in WRITES and "/oauth/token" not in c["path"]
    ]


def object_ids(sandbox: SandboxServer) -> dict[str, list[str]]:
    state = sandbox.state()
    return {
        "admin_bindings": sorted(a["subaccount"] for a in state["admin_bindings"]),
        "instances": sorted(i["id"] for i in state["instances"]),
        "bindings": sorted(b["id"] for b in state["bindings"]),
        "assignments": sorted(
            f"{a['subaccount']}/{a['service']}/{a['plan']}={a['amount']}" for a in state["assignments"]
        ),
    }


@contextmanager
def clients(sandbox: SandboxServer) -> Iterator[tuple[AccountsClient, EntitlementsClient]]:
    key = CisServiceKey.parse(json.dumps(sandbox.cis_service_key()), source="test")
    with AccountsClient(key) as accounts, EntitlementsClient(key) as entitlements:
        yield accounts, entitlements


def amount_of(sandbox: SandboxServer, guid: str, service: str, plan: str) -> int | None:
    for a in sandbox.state()["assignments"]:
        if (a["subaccount"], a["service"], a["plan"]) == (guid, service, plan):
            return int(a["amount"])
    return None


def up_ok(run: LocalEngine) -> Any:
    result = run.up()
    assert result.ok, result.render.error
    return result


# ---- rename ---------------------------------------------------------------------------------------


def test_a_renamed_namespace_is_refused_before_anything_changes(sandbox: SandboxServer) -> None:
    tenant = engine("incident")
    up_ok(tenant)
    before, state_before = object_ids(sandbox), dict(tenant.resources)
    since = len(sandbox.calls())

    tenant.config["btp-infra:namespace"] = "incident-v2"
    renamed = tenant.up()

    assert not renamed.ok
    message = str(renamed.render.error)
    assert "'incident' to 'incident-v2'" in message and "renaming a tenant is refused" in message
    assert writes_since(sandbox, since) == []
    assert object_ids(sandbox) == before
    assert tenant.resources.keys() == state_before.keys()
    assert renamed.created == renamed.deleted == []

    tenant.config["btp-infra:namespace"] = "incident"
    assert up_ok(tenant).changes == 0
    assert chain_objects(sandbox.state()) == ONE_OF_EACH
    tenant.destroy()
    assert is_empty(sandbox)


def test_a_tenant_moved_to_another_subaccount_is_refused_before_anything_changes(
    sandbox: SandboxServer,
) -> None:
    """A changed subaccountId would replace the operator access in the new subaccount and point the Secret
    at it, orphaning the operator's instances in the old one: refused by the first resource's check."""
    tenant = engine("incident")
    up_ok(tenant)
    before, state_before = object_ids(sandbox), dict(tenant.resources)
    since = len(sandbox.calls())

    tenant.config["btp-infra:subaccountId"] = SUBACCOUNT_2
    moved = tenant.up()

    assert not moved.ok
    message = str(moved.render.error)
    assert f"changed from '{SUBACCOUNT_1}' to '{SUBACCOUNT_2}'" in message
    assert "moving tenant 'incident' to another subaccount is refused" in message
    assert writes_since(sandbox, since) == []
    assert object_ids(sandbox) == before
    assert tenant.resources.keys() == state_before.keys()
    assert moved.created == moved.replaced == moved.deleted == []
    assert chain_objects(sandbox.state(), "incident", SUBACCOUNT_2) != ONE_OF_EACH

    tenant.config["btp-infra:subaccountId"] = SUBACCOUNT_1
    assert up_ok(tenant).changes == 0


def test_a_stack_made_before_stable_names_is_adopted_in_place(sandbox: SandboxServer) -> None:
    tenant = engine("incident")
    up_ok(tenant)
    before = object_ids(sandbox)
    # What such a stack's state looks like: every name derived from the namespace, no ownership keys.
    for key, entry in list(tenant.resources.items()):
        del tenant.resources[key]
        entry.name = (
            "incident" + entry.name.removeprefix("tenant") if entry.name.startswith("tenant") else entry.name
        )
        entry.inputs = {k: v for k, v in entry.inputs.items() if k not in NEW_KEYS}
        entry.outputs = {k: v for k, v in entry.outputs.items() if k not in NEW_KEYS}
        tenant.resources[(entry.type, entry.name)] = entry
    since = len(sandbox.calls())

    migrated = up_ok(tenant)

    assert migrated.created == migrated.deleted == migrated.replaced == []
    assert writes_since(sandbox, since) == []
    assert object_ids(sandbox) == before
    assert {name for _, name in tenant.resources if name.startswith("incident")} == set()
    assert up_ok(tenant).changes == 0
    tenant.destroy()
    assert is_empty(sandbox)


# ---- two stacks, one subaccount -------------------------------------------------------------------


def test_a_second_stack_on_a_claimed_subaccount_is_refused_and_its_destroy_keeps_the_first(
    sandbox: SandboxServer,
) -> None:
    first = engine("incident", SUBACCOUNT_1)
    up_ok(first)
    before = object_ids(sandbox)
    since = len(sandbox.calls())

    second = engine("orders", SUBACCOUNT_1, entitlements=json.dumps([{"service": HANA[0], "plan": HANA[1]}]))
    refused = second.up()

    assert not refused.ok
    message = str(refused.render.error)
    assert f"subaccount {SUBACCOUNT_1} already serves tenant namespace incident" in message
    assert writes_since(sandbox, since) == []  # refused before any entitlement or instance was written
    assert object_ids(sandbox) == before

    second.destroy()
    assert object_ids(sandbox) == before
    assert up_ok(first).changes == 0
    first.destroy()
    assert is_empty(sandbox)


def test_destroying_one_of_two_tenants_sharing_a_subaccount_keeps_the_other(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stacks made before the claim check may share a subaccount: each destroy removes its own objects
    only, and keeps the admin access and the operator entitlement while the other tenant uses them."""
    first = engine("incident", SUBACCOUNT_1)
    up_ok(first)
    with monkeypatch.context() as patch:
        patch.setattr(sm_access, "tenants_in", lambda sm: [])  # the claim check did not exist yet
        second = engine("orders", SUBACCOUNT_1)
        up_ok(second)
    assert chain_objects(sandbox.state(), "orders") == ONE_OF_EACH

    first.destroy()

    state = sandbox.state()
    assert chain_objects(state, "orders") == ONE_OF_EACH  # instance, binding, admin access, entitlement
    assert chain_objects(state, "incident")["instance"] == chain_objects(state, "incident")["binding"] == 0
    assert up_ok(second).changes == 0
    second.destroy()
    # The second stack adopted the admin access and the operator entitlement from the first: kept.
    kept = leftovers(sandbox)
    assert [i["name"] for i in kept["instances"]] == ["ServiceManagementAccessInstance"]
    assert [a["subaccount"] for a in kept["admin_bindings"]] == [SUBACCOUNT_1]
    assert [(a["service"], a["plan"]) for a in kept["assignments"]] == [OPERATOR]


# ---- adopted is not owned -------------------------------------------------------------------------


def pre_existing(sandbox: SandboxServer) -> None:
    """What a subaccount set up by hand holds: the admin binding, the operator plan, HANA amount 2."""
    with clients(sandbox) as (accounts, entitlements):
        accounts.create_service_management_binding(SUBACCOUNT_1)
        entitlements.assign(SUBACCOUNT_1, *OPERATOR)
        entitlements.assign(SUBACCOUNT_1, *HANA, 2)


def hana_tenant(**extra: str) -> LocalEngine:
    declared = json.dumps([{"service": HANA[0], "plan": HANA[1], "amount": 3}])
    return engine("incident", SUBACCOUNT_1, entitlements=declared, **extra)


def test_adopted_admin_access_and_entitlements_are_kept_on_destroy(sandbox: SandboxServer) -> None:
    pre_existing(sandbox)
    tenant = hana_tenant()
    created = up_ok(tenant)
    assert created.render.outputs["adopted"] == [
        "serviceManagementBinding",
        "entitlement service-manager/service-operator-access",
        "entitlement hana-cloud/hana",
    ]
    assert amount_of(sandbox, SUBACCOUNT_1, *HANA) == 3

    tenant.destroy()

    state = sandbox.state()
    assert [a["subaccount"] for a in state["admin_bindings"]] == [SUBACCOUNT_1]
    assert amount_of(sandbox, SUBACCOUNT_1, *OPERATOR) is not None
    assert amount_of(sandbox, SUBACCOUNT_1, *HANA) == 2  # what the stack found, given back
    assert chain_objects(state)["instance"] == chain_objects(state)["binding"] == 0


def test_take_ownership_deletes_adopted_objects_too(sandbox: SandboxServer) -> None:
    pre_existing(sandbox)
    tenant = hana_tenant(takeOwnership="true")
    up_ok(tenant)
    tenant.destroy()
    assert is_empty(sandbox), leftovers(sandbox)


def test_what_the_stack_created_is_reported_as_not_adopted(sandbox: SandboxServer) -> None:
    tenant = hana_tenant()
    assert up_ok(tenant).render.outputs["adopted"] == []
    tenant.destroy()
    assert is_empty(sandbox)


# ---- protect --------------------------------------------------------------------------------------


PROTECTED_EXTRAS = {"protect": "true", "networkPolicy": "default-deny", "mtls": "true"}


def test_protect_survives_a_skip_preview_destroy_whole(sandbox: SandboxServer) -> None:
    tenant = engine("incident", **PROTECTED_EXTRAS)
    up_ok(tenant)
    cluster, before = dict(tenant.cluster), object_ids(sandbox)
    assert {name for _, name in cluster} >= {"tenant-namespace", "tenant-operator-secret"}

    with pytest.raises(ProtectedResourceError, match="protected"):
        tenant.destroy()  # what `pulumi destroy --yes --skip-preview` does

    assert tenant.cluster.keys() == cluster.keys()  # the Secret and the guardrails are still there
    assert object_ids(sandbox) == before

    assert tenant.destroy(exclude_protected=True) == []  # `destroy --exclude-protected` keeps the tenant
    assert tenant.cluster.keys() == cluster.keys()
    assert object_ids(sandbox) == before

    tenant.config["btp-infra:protect"] = "false"
    up_ok(tenant)
    tenant.destroy()
    assert is_empty(sandbox) and tenant.cluster == {}


def test_every_resource_of_a_protected_tenant_is_protected(sandbox: SandboxServer) -> None:
    tenant = engine("incident", **PROTECTED_EXTRAS)
    up_ok(tenant)
    unprotected = [
        e.name for e in tenant.resources.values() if not e.protect and e.type != "pulumi:providers:kubernetes"
    ]  # the component included
    assert unprotected == []
    tenant.config["btp-infra:protect"] = "false"
    up_ok(tenant)
    assert [e.name for e in tenant.resources.values() if e.protect] == []
    tenant.destroy()


def test_a_tenant_on_another_subaccount_is_independent(sandbox: SandboxServer) -> None:
    first, second = engine("incident", SUBACCOUNT_1), engine("orders", SUBACCOUNT_2)
    up_ok(first)
    up_ok(second)
    first.destroy()
    assert chain_objects(sandbox.state(), "orders", SUBACCOUNT_2) == ONE_OF_EACH
    second.destroy()
    assert is_empty(sandbox)

"""Entitlement names are unique by construction; stacks made with the old names keep their entitlements.

``tenant-entitlement-<service>-<plan>`` gave ``foo-bar/baz`` and ``foo/bar-baz`` one name (the engine stops
with "Duplicate resource URN"); the name is now ``tenant-entitlement-<service>/<plan>`` (``/`` cannot occur in
a service or plan name), and the old name is an alias, so an existing stack's entitlements are adopted in
place — no replacement, which would unassign the plan (``LocalEngine`` models the engine's alias matching).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from btp_infra.sandbox import SandboxServer
from btp_infra.testing.local_engine import LocalEngine

from .support import engine, is_empty

ENTITLEMENT = "pulumi-python:dynamic/btp:SubaccountEntitlement"
HANA = ("hana-cloud", "hana")
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def _writes_since(sandbox: SandboxServer, since: int) -> list[str]:
    return [
        f"{c['method']} {c['path']}"
        for c in sandbox.calls()[since:]
        if c["method"] in WRITES and "/oauth/token" not in c["path"]
    ]


def _rename_entitlements(tenant: LocalEngine, old_name: Callable[[str, str], str]) -> None:
    """Rewrite the state as the old program left it: each entitlement under ``old_name(service, plan)``."""
    for key, entry in list(tenant.resources.items()):
        if entry.type != ENTITLEMENT:
            continue
        del tenant.resources[key]
        service, plan = entry.inputs["serviceName"], entry.inputs["planName"]
        entry.name = old_name(service, plan)
        tenant.resources[(entry.type, entry.name)] = entry


@pytest.mark.parametrize(
    "old_form",
    [
        pytest.param(lambda s, p: f"tenant-entitlement-{s}-{p}", id="service-plan"),
        # a stack made before the stable names: the component's alias and the entitlement's alias multiply
        # (step_generator.go, generateAliases)
        pytest.param(lambda s, p: f"incident-entitlement-{s}-{p}", id="namespace-prefixed"),
    ],
)
def test_a_stack_with_the_old_entitlement_names_is_adopted_in_place(
    sandbox: SandboxServer, old_form: Callable[[str, str], str]
) -> None:
    tenant = engine("incident", entitlements=json.dumps([{"service": HANA[0], "plan": HANA[1], "amount": 1}]))
    first = tenant.up()
    assert first.ok, first.render.error
    assert {n for t, n in tenant.resources if t == ENTITLEMENT} == {
        "tenant-entitlement-service-manager/service-operator-access",
        "tenant-entitlement-hana-cloud/hana",
    }
    assignments = sandbox.state()["assignments"]
    _rename_entitlements(tenant, old_form)
    if old_form("a", "b").startswith("incident"):
        for key, entry in list(tenant.resources.items()):  # every other name derived from the namespace too
            if entry.name.startswith("tenant"):
                del tenant.resources[key]
                entry.name = "incident" + entry.name.removeprefix("tenant")
                tenant.resources[(entry.type, entry.name)] = entry
    since = len(sandbox.calls())

    migrated = tenant.up()

    assert migrated.ok, migrated.render.error
    assert migrated.created == migrated.deleted == migrated.replaced == []
    assert _writes_since(sandbox, since) == []
    assert sandbox.state()["assignments"] == assignments
    assert {n for t, n in tenant.resources if t == ENTITLEMENT} == {
        "tenant-entitlement-service-manager/service-operator-access",
        "tenant-entitlement-hana-cloud/hana",
    }
    again = tenant.up()
    assert again.ok and again.changes == 0
    tenant.destroy()
    assert is_empty(sandbox)

"""The whole tenant component against the emulator: ``LocalEngine`` runs the program under mocks and executes
the dynamic BTP resources through their (unpickled, configured) providers with the production policies.

The operator Secret must hold exactly the binding's credentials as the emulator stores them; a re-run is a
no-op without a single HTTP call; refresh sees an out-of-band delete; destroy leaves nothing behind.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from emulator_fixtures import FAST, SUBACCOUNT_1, SUBACCOUNT_2, sandbox_seeds

from btp_infra.btp.accounts import AccountsClient
from btp_infra.btp.keys import CisServiceKey
from btp_infra.btp.service_manager import ServiceManagerClient
from btp_infra.config import engine_config
from btp_infra.credentials import ENV_KEY, ENV_KEY_FILE, ENV_PROFILE
from btp_infra.offline.rendering import RenderedResource, is_secret_envelope
from btp_infra.sandbox import SandboxConfig, SandboxServer
from btp_infra.testing.local_engine import LocalEngine, RunResult

PROJECT_DIR = Path(__file__).resolve().parent.parent
SECRET = "kubernetes:core/v1:Secret"
NAMESPACE = "kubernetes:core/v1:Namespace"
DYNAMIC = (
    "subaccount",
    "sm-access",
    "entitlement-service-manager/service-operator-access",
    "operator-access",
    "operator-access-binding",
)


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(subaccounts=sandbox_seeds(), latencies=FAST, tls=True)) as server:
        for name in (ENV_KEY_FILE, ENV_PROFILE):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv(ENV_KEY, json.dumps(server.cis_service_key()))
        yield server


def stack_config(file: str, subaccount: str) -> dict[str, str]:
    """A shipped stack's config, pointed at an emulator subaccount (the key comes from the environment)."""
    config = engine_config(PROJECT_DIR / "examples" / "stacks" / file)
    config["btp-infra:subaccountId"] = subaccount
    config.pop("btp-infra:keyringProfile", None)
    return config


def only(result: RunResult, type_token: str) -> RenderedResource:
    found = result.render.of_type(type_token)
    assert len(found) == 1, [r.name for r in found]
    return found[0]


def tenant_binding(sandbox: SandboxServer, name: str) -> tuple[str, dict[str, Any]]:
    """The id and stored credentials of the one binding called ``name`` in the emulator."""
    found = [b for b in sandbox.state()["bindings"] if b["name"] == name]
    assert len(found) == 1, found
    with sandbox.runtime.store.lock:
        return found[0]["id"], dict(sandbox.runtime.store.bindings[found[0]["id"]].credentials)


def btp_objects(sandbox: SandboxServer, subaccount: str | None = None) -> dict[str, list[dict[str, Any]]]:
    state = sandbox.state()
    return {
        kind: [o for o in state[kind] if subaccount is None or o["subaccount"] == subaccount]
        for kind in ("assignments", "admin_bindings", "instances", "bindings")
    }


def admin_sm(sandbox: SandboxServer, subaccount: str) -> ServiceManagerClient:
    key = CisServiceKey.parse(sandbox.cis_service_key(), source="sandbox")
    with AccountsClient(key) as accounts:
        creds = accounts.get_service_management_binding(subaccount)
    assert creds is not None
    return ServiceManagerClient(creds)


def test_client_secret_stack_up_noop_refresh_and_destroy(sandbox: SandboxServer) -> None:
    engine = LocalEngine("example", stack_config("Pulumi.example.yaml", SUBACCOUNT_1))
    first = engine.up()
    assert first.ok, first.render.error
    assert first.created == [f"tenant-{name}" for name in DYNAMIC]

    binding_id, creds = tenant_binding(sandbox, "btp-infra-incident-operator-access-client-secret")
    secret = only(first, SECRET)
    assert is_secret_envelope(secret.inputs["stringData"])
    assert secret.plain_inputs["stringData"] == {
        "clientid": creds["clientid"],
        "clientsecret": creds["clientsecret"],
        "sm_url": creds["sm_url"],
        "tokenurl": creds["url"],
        "tokenurlsuffix": "/oauth/token",
    }
    assert secret.plain_inputs["metadata"] == {
        "name": "sap-btp-service-operator",
        "namespace": "incident",
        "labels": {
            "services.cloud.sap.com/config": "true",
            "services.cloud.sap.com/managed-by-sap-btp-operator": "true",
            "btp-infra.io/tenant": "incident",
        },
    }
    assert only(first, NAMESPACE).plain_inputs["metadata"]["labels"] == {
        "istio-injection": "enabled",
        "btp-infra.io/tenant": "incident",
        "btp-infra.io/subaccount": SUBACCOUNT_1,
        "app.kubernetes.io/managed-by": "btp-infra",
    }
    live = btp_objects(sandbox, SUBACCOUNT_1)
    [instance] = [i for i in live["instances"] if i["plan"] == "service-operator-access"]
    assert instance["name"] == "btp-infra-incident-operator-access"
    assert instance["labels"] == {"btp-infra.managed-by": ["btp-infra"], "btp-infra.tenant": ["incident"]}
    assert [(a["service"], a["plan"], a["entityState"]) for a in live["assignments"]] == [
        ("service-manager", "service-operator-access", "OK")
    ]
    assert len(live["admin_bindings"]) == 1
    assert first.render.outputs["bindingId"] == binding_id

    # A re-run with nothing changed: zero changes and not a single HTTP call (check and diff are local).
    calls_before = len(sandbox.calls())
    again = engine.up()
    assert again.ok and again.changes == 0
    assert again.same == first.created
    assert sandbox.calls()[calls_before:] == []
    assert only(again, SECRET).plain_inputs == secret.plain_inputs

    # The binding is deleted out of band: refresh drops it (only it), the next up recreates it.
    with admin_sm(sandbox, SUBACCOUNT_1) as sm:
        sm.delete_binding(binding_id, timeout=30)
    assert engine.refresh() == ["tenant-operator-access-binding"]
    healed = engine.up()
    assert healed.ok, healed.render.error
    assert (healed.created, healed.updated, healed.replaced, healed.deleted) == (
        ["tenant-operator-access-binding"],
        [],
        [],
        [],
    )
    new_id, new_creds = tenant_binding(sandbox, "btp-infra-incident-operator-access-client-secret")
    assert new_id != binding_id and new_creds["clientsecret"] != creds["clientsecret"]
    assert only(healed, SECRET).plain_inputs["stringData"]["clientsecret"] == new_creds["clientsecret"]
    assert only(healed, SECRET).plain_inputs["stringData"]["clientid"] == new_creds["clientid"]

    deleted = engine.destroy()
    assert [name for name in deleted if name in {f"tenant-{n}" for n in DYNAMIC}] == [
        f"tenant-{name}" for name in reversed(DYNAMIC)
    ]
    assert deleted.index("tenant-operator-secret") < deleted.index("tenant-operator-access-binding")
    assert engine.state == {} and engine.cluster == {}
    assert btp_objects(sandbox) == {"assignments": [], "admin_bindings": [], "instances": [], "bindings": []}

    # Up again after destroy, with every token expired: the new admin binding's credentials are used (each
    # command starts with fresh providers, as the engine starts a fresh provider process).
    sandbox.revoke_tokens()
    recreated = engine.up()
    assert recreated.ok, recreated.render.error
    assert recreated.created == first.created
    engine.destroy()
    assert btp_objects(sandbox) == {"assignments": [], "admin_bindings": [], "instances": [], "bindings": []}


def test_x509_management_stack_beside_another_tenant(sandbox: SandboxServer) -> None:
    neighbour = LocalEngine("example", stack_config("Pulumi.example.yaml", SUBACCOUNT_1))
    assert neighbour.up().ok
    neighbour_objects = btp_objects(sandbox, SUBACCOUNT_1)

    config = stack_config("Pulumi.example-x509.yaml", SUBACCOUNT_2)
    engine = LocalEngine("example-x509", config)
    first = engine.up()
    assert first.ok, first.render.error
    _, creds = tenant_binding(sandbox, "btp-infra-payments-operator-access-x509")
    secret = only(first, SECRET)
    assert is_secret_envelope(secret.inputs["stringData"])
    assert secret.plain_inputs["stringData"] == {
        "clientid": creds["clientid"],
        "tls.crt": creds["certificate"],
        "tls.key": creds["key"],
        "sm_url": creds["sm_url"],
        "tokenurl": creds["certurl"],
        "tokenurlsuffix": "/oauth/token",
    }
    assert creds["certurl"].startswith(f"{sandbox.tls_url}/uaa/")
    assert secret.plain_inputs["metadata"] == {
        "name": "payments-sap-btp-service-operator",
        "namespace": "kyma-system",
        "labels": {
            "services.cloud.sap.com/config": "true",
            "services.cloud.sap.com/managed-by-sap-btp-operator": "true",
            "btp-infra.io/tenant": "payments",
        },
    }
    namespace = only(first, NAMESPACE)
    assert namespace.protect is True
    assert namespace.plain_inputs["metadata"]["labels"] == {
        "istio-injection": "enabled",
        "btp-infra.io/tenant": "payments",
        "btp-infra.io/subaccount": SUBACCOUNT_2,
        "app.kubernetes.io/managed-by": "btp-infra",
        "cost-center": "4711",
        "team": "payments",
    }
    assignments = {
        (a["service"], a["plan"]): a["amount"] for a in btp_objects(sandbox, SUBACCOUNT_2)["assignments"]
    }
    assert assignments == {
        ("service-manager", "service-operator-access"): 1,
        ("hana-cloud", "hana"): 1,
        ("destination", "lite"): 1,
    }

    calls_before = len(sandbox.calls())
    assert engine.up().changes == 0
    assert sandbox.calls()[calls_before:] == []

    # Change the stack: more HANA quota (update in place), no destination any more (delete). The tenant is
    # protected as a whole, so removing an entitlement fails like any delete of a protected resource ...
    config["btp-infra:entitlements"] = json.dumps([{"service": "hana-cloud", "plan": "hana", "amount": 2}])
    engine.config = config
    refused = engine.up()
    assert not refused.ok and "protected" in str(refused.render.error)
    # ... until protection is lifted while it is still declared (as `pulumi state unprotect` would).
    entitlements = config["btp-infra:entitlements"]
    engine.config = {**stack_config("Pulumi.example-x509.yaml", SUBACCOUNT_2), "btp-infra:protect": "false"}
    assert engine.up().ok
    config = {**engine.config, "btp-infra:entitlements": entitlements}
    engine.config = config
    changed = engine.up()
    assert changed.ok, changed.render.error
    assert (changed.created, changed.updated, changed.replaced, changed.deleted) == (
        [],
        ["tenant-entitlement-hana-cloud/hana"],
        [],
        ["tenant-entitlement-destination/lite"],
    )
    assignments = {
        (a["service"], a["plan"]): a["amount"] for a in btp_objects(sandbox, SUBACCOUNT_2)["assignments"]
    }
    assert assignments == {("service-manager", "service-operator-access"): 1, ("hana-cloud", "hana"): 2}

    engine.destroy()
    assert btp_objects(sandbox, SUBACCOUNT_2) == {
        "assignments": [],
        "admin_bindings": [],
        "instances": [],
        "bindings": [],
    }
    assert btp_objects(sandbox, SUBACCOUNT_1) == neighbour_objects  # the other tenant is untouched
    neighbour.destroy()
    assert btp_objects(sandbox) == {"assignments": [], "admin_bindings": [], "instances": [], "bindings": []}

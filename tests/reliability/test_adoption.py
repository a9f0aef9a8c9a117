"""Adopting a hand-made tenant (``btp-infra:adopt``): nothing re-created or interrupted, kept on destroy.

Each scenario makes a tenant by hand in the emulator (:func:`btp_infra.testing.handmade.make_by_hand`: the
operator plan entitled, an instance and a binding with a person's names, no btp-infra labels, no admin
access left), then drives the real program through ``LocalEngine`` with the ``adopt`` block ``btp-infra
tenant adopt`` writes. The emulator's call log shows what was written: no POST of an instance or a binding,
only label PATCHes; the Secret's content is the hand-made binding's credentials (so a hand-made Secret with
them does not change); destroy keeps what was adopted — with its labels given back — unless
``takeOwnership``; ids of the wrong kind or of another subaccount are refused with one line naming the key.
"""

from __future__ import annotations

import json
from typing import Any

from emulator_fixtures import SUBACCOUNT_1, SUBACCOUNT_2

from btp_infra.conventions import (
    OPERATOR_OFFERING,
    PROJECT,
    SM_MANAGED_BY_LABEL,
    SM_TENANT_LABEL,
    TYPE_NAMESPACE,
    TYPE_SECRET,
    TYPE_SERVICE_BINDING,
    TYPE_SERVICE_INSTANCE,
)
from btp_infra.operator_secret import secret_data
from btp_infra.policy.rules import plain
from btp_infra.sandbox import SandboxServer
from btp_infra.testing import tenants
from btp_infra.testing.handmade import HAND_BINDING, HAND_INSTANCE, HandMade, make_by_hand, make_instance_of
from btp_infra.testing.local_engine import LocalEngine

from .support import NAMESPACE, engine

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
#: The instance's and binding's inputs a stack made before adoption does not have in its state.
NEW_KEYS = {"adopt", "takeOwnership"}


def writes_since(sandbox: SandboxServer, since: int) -> list[str]:
    """The BTP API writes (not token requests) the emulator saw after call number ``since``."""
    return [
        f"{c['method']} {c['path']}"
        for c in sandbox.calls()[since:]
        if c["method"] in WRITES and "/oauth/token" not in c["path"]
    ]


def sm_creates(writes: list[str]) -> list[str]:
    """The POSTs of a Service Manager instance or binding among ``writes``."""
    return [
        w for w in writes if w.startswith("POST ") and ("/service_instances" in w or "/service_bindings" in w)
    ]


def by_hand(sandbox: SandboxServer, **kwargs: Any) -> HandMade:
    return make_by_hand(sandbox.cis_service_key(), SUBACCOUNT_1, **kwargs)


def adopting(adopt: dict[str, Any], **extra: str) -> LocalEngine:
    return engine(NAMESPACE, SUBACCOUNT_1, adopt=json.dumps(adopt), **extra)


def up_ok(run: LocalEngine) -> Any:
    result = run.up()
    assert result.ok, result.render.error
    return result


def live(sandbox: SandboxServer, kind: str, id_: str) -> dict[str, Any] | None:
    found = tenants.objects(sandbox.state(), kind, id=id_)
    return found[0] if found else None


def registration(result: Any, type_: str) -> Any:
    (found,) = [r for r in result.render.resources if r.type == type_]
    return found


BY_NAME = {"instanceName": HAND_INSTANCE, "bindingName": HAND_BINDING, "import": ["namespace", "secret"]}


def test_a_hand_made_tenant_is_adopted_by_name_without_creating_anything(sandbox: SandboxServer) -> None:
    hand = by_hand(sandbox)
    since = len(sandbox.calls())
    tenant = adopting(BY_NAME)

    result = up_ok(tenant)

    writes = writes_since(sandbox, since)
    assert sm_creates(writes) == [], writes
    assert f"PATCH /sm/v1/service_instances/{hand.instance_id}" in writes
    assert f"PATCH /sm/v1/service_bindings/{hand.binding_id}" in writes
    assert result.render.outputs["adopted"] == [
        "entitlement service-manager/service-operator-access",
        f"serviceInstance {HAND_INSTANCE}",
        f"serviceBinding {HAND_BINDING}",
        f"namespace {NAMESPACE}",
        f"secret {NAMESPACE}/sap-btp-service-operator",
    ]
    assert result.render.outputs["instanceId"] == hand.instance_id
    assert result.render.outputs["bindingId"] == hand.binding_id
    instance = live(sandbox, "instances", hand.instance_id)
    assert instance is not None and instance["labels"][SM_TENANT_LABEL] == [NAMESPACE]
    # The Secret is written from the hand-made binding's credentials: the hand-made Secret's content.
    secret = registration(result, TYPE_SECRET)
    assert secret.plain_inputs["stringData"] == secret_data(dict(hand.credentials), "client-secret")
    # The Namespace and the Secret are imported (never created) and kept on destroy.
    namespace = registration(result, TYPE_NAMESPACE)
    assert (namespace.import_id, namespace.retain_on_delete) == (NAMESPACE, True)
    assert (secret.import_id, secret.retain_on_delete) == (f"{NAMESPACE}/sap-btp-service-operator", True)

    again = tenant.up()
    assert again.ok and again.changes == 0


def test_destroy_keeps_adopted_objects_and_gives_their_labels_back(sandbox: SandboxServer) -> None:
    hand = by_hand(sandbox)
    tenant = adopting(BY_NAME)
    up_ok(tenant)

    tenant.destroy()

    instance = live(sandbox, "instances", hand.instance_id)
    binding = live(sandbox, "bindings", hand.binding_id)
    assert instance is not None and binding is not None
    for kept in (instance, binding):
        assert SM_TENANT_LABEL not in kept["labels"] and SM_MANAGED_BY_LABEL not in kept["labels"]
    state = sandbox.state()
    # The admin access was the stack's own: gone; the entitlement existed before: kept.
    assert [a for a in state["admin_bindings"] if a["subaccount"] == SUBACCOUNT_1] == []
    assert tenants.objects(state, "assignments", subaccount=SUBACCOUNT_1, service=OPERATOR_OFFERING) != []
    assert tenant.resources == {}


def test_adoption_by_id_and_take_ownership_deletes_them_with_the_stack(sandbox: SandboxServer) -> None:
    hand = by_hand(sandbox)
    since = len(sandbox.calls())
    tenant = adopting(
        {
            "instanceId": hand.instance_id,
            "instanceName": HAND_INSTANCE,
            "bindingId": hand.binding_id,
            "bindingName": HAND_BINDING,
        },
        takeOwnership="true",
    )
    result = up_ok(tenant)
    assert sm_creates(writes_since(sandbox, since)) == []
    assert result.render.outputs["bindingId"] == hand.binding_id
    # Not imported: the stack creates the Namespace and Secret; nothing Kubernetes is retained.
    for type_ in (TYPE_NAMESPACE, TYPE_SECRET):
        reg = registration(result, type_)
        assert (reg.import_id, reg.retain_on_delete) == (None, False)

    tenant.destroy()

    assert live(sandbox, "instances", hand.instance_id) is None
    assert live(sandbox, "bindings", hand.binding_id) is None


def test_take_ownership_lets_destroy_delete_imported_kubernetes_objects(sandbox: SandboxServer) -> None:
    by_hand(sandbox)
    result = up_ok(adopting(BY_NAME, takeOwnership="true"))
    for type_ in (TYPE_NAMESPACE, TYPE_SECRET):
        reg = registration(result, type_)
        assert reg.import_id is not None and reg.retain_on_delete is False


def test_an_id_whose_object_has_another_name_is_refused_naming_the_key(sandbox: SandboxServer) -> None:
    hand = by_hand(sandbox)
    since = len(sandbox.calls())
    result = adopting({"instanceId": hand.instance_id}).up()
    assert not result.ok
    message = str(result.render.error)
    assert f"btp-infra:adopt.instanceId: '{hand.instance_id}'" in message
    assert f"btp-infra:adopt.instanceName: {HAND_INSTANCE}" in message
    assert sm_creates(writes_since(sandbox, since)) == []


def test_an_instance_of_another_plan_is_refused(sandbox: SandboxServer) -> None:
    by_hand(sandbox)
    admin = make_instance_of(
        sandbox.cis_service_key(), SUBACCOUNT_1, OPERATOR_OFFERING, "subaccount-admin", "admin-by-hand"
    )
    since = len(sandbox.calls())
    result = adopting({"instanceId": admin, "instanceName": "admin-by-hand"}).up()
    assert not result.ok
    message = str(result.render.error)
    assert f"btp-infra:adopt.instanceId: '{admin}' — is an instance of another plan" in message
    assert "service-manager/service-operator-access" in message
    assert sm_creates(writes_since(sandbox, since)) == []
    assert tenants.objects(sandbox.state(), "instances", id=admin)[0]["labels"] == {}


def test_an_instance_of_another_subaccount_is_refused(sandbox: SandboxServer) -> None:
    other = make_by_hand(sandbox.cis_service_key(), SUBACCOUNT_2)
    since = len(sandbox.calls())
    result = adopting({"instanceId": other.instance_id, "instanceName": HAND_INSTANCE}).up()
    assert not result.ok
    message = str(result.render.error)
    assert (
        f"btp-infra:adopt.instanceId: '{other.instance_id}' — is no service instance in subaccount" in message
    )
    assert sm_creates(writes_since(sandbox, since)) == []


def test_a_binding_of_another_instance_is_refused(sandbox: SandboxServer) -> None:
    by_hand(sandbox)
    other = by_hand(sandbox, instance_name="other-access", binding_name="other-binding")
    result = adopting(
        {"instanceName": HAND_INSTANCE, "bindingId": other.binding_id, "bindingName": "other-binding"}
    ).up()
    assert not result.ok
    assert f"btp-infra:adopt.bindingId: '{other.binding_id}' — is a binding of instance" in str(
        result.render.error
    )


def test_a_binding_of_the_other_credential_type_is_refused(sandbox: SandboxServer) -> None:
    by_hand(sandbox)  # client-secret
    since = len(sandbox.calls())
    result = adopting(
        {"instanceName": HAND_INSTANCE, "bindingName": HAND_BINDING}, credentialType="x509"
    ).up()
    assert not result.ok
    message = str(result.render.error)
    assert "btp-infra:adopt.bindingName: 'kyma-ops-binding' — holds client-secret credentials" in message
    assert "btp-infra:credentialType: client-secret" in message
    assert sm_creates(writes_since(sandbox, since)) == []


def test_a_missing_object_is_refused_and_nothing_is_created(sandbox: SandboxServer) -> None:
    since = len(sandbox.calls())
    result = adopting({"instanceName": "never-made"}).up()
    assert not result.ok
    assert "btp-infra:adopt.instanceName: 'never-made' — is no service instance" in str(result.render.error)
    assert sm_creates(writes_since(sandbox, since)) == []


def test_adopting_an_existing_stack_changes_nothing(sandbox: SandboxServer) -> None:
    """Stacks made before ``adopt`` existed: the new inputs are absent from their state and stay unset."""
    tenant = engine(NAMESPACE, SUBACCOUNT_1)
    up_ok(tenant)
    for entry in tenant.state.values():
        if entry.type in (TYPE_SERVICE_INSTANCE, TYPE_SERVICE_BINDING):
            entry.inputs = {k: v for k, v in entry.inputs.items() if k not in NEW_KEYS}
            entry.outputs = {k: v for k, v in entry.outputs.items() if k not in NEW_KEYS}
    assert up_ok(tenant).changes == 0
    tenant.destroy()
    assert tenants.is_empty(sandbox.state())


def test_admin_access_and_entitlement_made_by_hand_are_adopted_and_kept(sandbox: SandboxServer) -> None:
    hand = by_hand(sandbox, keep_admin_access=True)
    since = len(sandbox.calls())
    tenant = adopting(BY_NAME)

    preview = tenant.preview()
    assert preview.ok, preview.render.error
    assert writes_since(sandbox, since) == []  # a preview writes nothing
    result = up_ok(tenant)

    writes = writes_since(sandbox, since)
    assert not any(w.startswith("POST ") for w in writes), writes  # not even the admin access
    assert result.render.outputs["adopted"][:2] == [
        "serviceManagementBinding",
        "entitlement service-manager/service-operator-access",
    ]
    assert tenant.refresh() is not None
    assert up_ok(tenant).changes == 0  # refresh reads the adopted objects as they are: no drift

    tenant.destroy()

    state = sandbox.state()
    assert [a["subaccount"] for a in state["admin_bindings"]] == [SUBACCOUNT_1]
    assert live(sandbox, "instances", hand.instance_id) is not None
    assert live(sandbox, "bindings", hand.binding_id) is not None


def test_an_interrupted_adoption_converges_on_re_run(sandbox: SandboxServer) -> None:
    """The labels were added but the run died before state was written: the re-run adopts again."""
    hand = by_hand(sandbox)
    tenant = adopting(BY_NAME)
    up_ok(tenant)
    tenant.resources.clear()  # the engine recorded nothing (a crash before the checkpoint)
    since = len(sandbox.calls())

    result = up_ok(tenant)

    assert sm_creates(writes_since(sandbox, since)) == []
    assert result.render.outputs["bindingId"] == hand.binding_id
    assert len(tenants.objects(sandbox.state(), "bindings", service_instance_id=hand.instance_id)) == 1


def test_an_object_another_tenants_stack_labelled_is_refused(sandbox: SandboxServer) -> None:
    labels = {SM_MANAGED_BY_LABEL: [PROJECT], SM_TENANT_LABEL: ["billing"]}
    hand = by_hand(sandbox, labels=labels, keep_admin_access=True)
    result = adopting({"instanceName": HAND_INSTANCE}).up()
    assert not result.ok
    message = str(result.render.error)
    assert "belongs to tenant billing" in message or "already serves tenant namespace billing" in message
    instance = live(sandbox, "instances", hand.instance_id)
    assert instance is not None and instance["labels"][SM_TENANT_LABEL] == ["billing"]


def test_the_management_placement_imports_the_management_namespace_secret(sandbox: SandboxServer) -> None:
    by_hand(sandbox)
    result = up_ok(adopting(BY_NAME, secretPlacement="management"))
    secret = registration(result, TYPE_SECRET)
    assert secret.import_id == f"kyma-system/{NAMESPACE}-sap-btp-service-operator"
    assert secret.retain_on_delete is True
    assert result.render.outputs["adopted"][-1] == f"secret kyma-system/{NAMESPACE}-sap-btp-service-operator"


def test_rotating_an_adopted_tenant_moves_it_to_a_binding_of_its_own(sandbox: SandboxServer) -> None:
    """``credentialRotation`` on an adopted tenant: a new btp-infra binding on the adopted instance, the
    Secret updated to its credentials, the hand-made binding kept (adopted, not owned), its labels back."""
    from btp_infra.conventions import binding_name, config_key

    hand = by_hand(sandbox)
    tenant = adopting(BY_NAME)
    up_ok(tenant)
    tenant.config = {**tenant.config, config_key("credentialRotation"): "r1"}
    since = len(sandbox.calls())

    result = up_ok(tenant)

    rotated = binding_name(NAMESPACE, "client-secret", "r1")
    creates = sm_creates(writes_since(sandbox, since))
    assert creates == ["POST /sm/v1/service_bindings"], creates
    new = tenants.objects(sandbox.state(), "bindings", name=rotated)
    assert len(new) == 1 and new[0]["service_instance_id"] == hand.instance_id
    assert result.render.outputs["bindingId"] == new[0]["id"] != hand.binding_id
    old = live(sandbox, "bindings", hand.binding_id)
    assert old is not None and SM_TENANT_LABEL not in old["labels"]  # kept, labels given back
    secret = registration(result, TYPE_SECRET)
    [binding_outputs] = tenant.outputs_of("ServiceBinding")
    assert binding_outputs["bindingId"] == new[0]["id"]
    written = secret.plain_inputs["stringData"]["clientid"]
    assert written == plain(binding_outputs["credentials"])["clientid"] != hand.credentials["clientid"]
    assert f"serviceBinding {HAND_BINDING}" not in result.render.outputs["adopted"]

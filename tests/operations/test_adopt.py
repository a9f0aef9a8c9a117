"""``tenant adopt``'s discovery and stack file (:mod:`btp_infra.operations.adopt`).

A tenant made by hand in the BTP emulator (:func:`btp_infra.testing.handmade.make_by_hand`) and in the
stand-in Kubernetes API (a namespace and the operator Secret made from the binding's credentials, as the
Kyma multi-tenancy seed does with ``kubectl``), read through the real official client. Discovery writes
nothing: the stand-in's request log shows no write, the emulator's no POST of an instance or binding (only
the admin access borrowed for the reads, deleted again). The stack file it writes validates and adopts
exactly what was found; the refusals that protect a running tenant each come as one line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from emulator_fixtures import SUBACCOUNT_1, SUBACCOUNT_2
from kube_fixtures import namespace_object, operator_object, secret_object

from btp_infra.btp.keys import CisServiceKey
from btp_infra.config import load_stack_file
from btp_infra.conventions import DEFAULT_MANAGEMENT_NAMESPACE, OPERATOR_SECRET_BASE_NAME
from btp_infra.kube import KubeClient
from btp_infra.operations.adopt import AdoptError, discover, next_steps, write_stack_file
from btp_infra.operator_secret import secret_data
from btp_infra.sandbox import SandboxServer
from btp_infra.tenants import TenantError
from btp_infra.testing.handmade import HAND_BINDING, HAND_INSTANCE, HandMade, make_by_hand
from btp_infra.testing.kube_api import KubeApiStandIn

NAMESPACE = "orders"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def key_of(sandbox: SandboxServer) -> CisServiceKey:
    return CisServiceKey.parse(json.dumps(sandbox.cis_service_key()), source="test")


def btp_writes(sandbox: SandboxServer, since: int) -> list[str]:
    return [
        f"{c['method']} {c['path']}"
        for c in sandbox.calls()[since:]
        if c["method"] in WRITES and "/oauth/token" not in c["path"]
    ]


def seed_cluster(
    kube_api: KubeApiStandIn,
    credentials: Mapping[str, Any] | None,
    *,
    namespace: str = NAMESPACE,
    secret_ns: str | None = None,
    secret_name: str = OPERATOR_SECRET_BASE_NAME,
) -> None:
    """The namespace (with a label of its own) and, given credentials, the hand-made operator Secret."""
    kube_api.seed(namespace_object(namespace, {"team": "orders"}))
    if credentials is not None:
        data = secret_data(dict(credentials), "client-secret")
        kube_api.seed(secret_object(secret_ns or namespace, secret_name, data))


def adopt(sandbox: SandboxServer, kube_client: KubeClient | None, **kwargs: Any) -> Any:
    kwargs.setdefault("namespace", NAMESPACE)
    kwargs.setdefault("subaccount_id", SUBACCOUNT_1)
    return discover(key_of(sandbox), cluster=kube_client, **kwargs)


@pytest.fixture
def hand(sb: SandboxServer) -> HandMade:
    return make_by_hand(sb.cis_service_key(), SUBACCOUNT_1)


def test_a_hand_made_tenant_is_found_without_writing_anything(
    sb: SandboxServer, hand: HandMade, kube_api: KubeApiStandIn, kube_client: KubeClient, tmp_path: Path
) -> None:
    seed_cluster(kube_api, hand.credentials)
    kube_api.clear_log()
    since = len(sb.calls())

    plan = adopt(sb, kube_client)

    assert (plan.instance.id, plan.instance.name) == (hand.instance_id, HAND_INSTANCE)
    assert (plan.binding.id, plan.binding.name) == (hand.binding_id, HAND_BINDING)
    assert plan.imports == ["namespace", "secret"]
    assert plan.secret_unchanged is True
    assert plan.entitlement_state == "OK"
    # Reads only: no Kubernetes write; in BTP only the admin access borrowed for the reads, and deleted.
    assert kube_api.requests(writes=True) == []
    writes = btp_writes(sb, since)
    assert [w.split()[0] for w in writes] == ["POST", "DELETE"], writes
    assert all(w.endswith("/serviceManagementBinding") for w in writes)
    assert sb.state()["admin_bindings"] == []
    # Nothing secret in what is shown.
    shown = json.dumps(plan.as_dict()) + "\n".join(next_steps(plan, "orders", None))
    for value in hand.credentials.values():
        if isinstance(value, str) and len(value) > 6:
            assert value not in shown


def test_the_stack_file_adopts_what_was_found_and_validates(
    sb: SandboxServer, hand: HandMade, kube_api: KubeApiStandIn, kube_client: KubeClient, tmp_path: Path
) -> None:
    seed_cluster(kube_api, hand.credentials)
    plan = adopt(sb, kube_client)

    path = write_stack_file("orders", plan, stacks_dir=tmp_path, kube_context="kyma")

    config = load_stack_file(path)
    assert config.adopt is not None
    assert (config.adopt.instance_id, config.adopt.instance_name) == (hand.instance_id, HAND_INSTANCE)
    assert (config.adopt.binding_id, config.adopt.binding_name) == (hand.binding_id, HAND_BINDING)
    assert config.adopt.imports == ("namespace", "secret")
    assert (config.instance_name, config.binding_name) == (HAND_INSTANCE, HAND_BINDING)
    with pytest.raises(TenantError, match="exists"):
        write_stack_file("orders", plan, stacks_dir=tmp_path, kube_context="kyma")
    steps = "\n".join(next_steps(plan, "orders", path))
    assert "btp-infra preview --stack orders" in steps and "btp-infra up --stack orders" in steps
    assert "'delete' or 'replace'" in steps


def test_management_placement_reads_the_management_namespace_secret(
    sb: SandboxServer, hand: HandMade, kube_api: KubeApiStandIn, kube_client: KubeClient
) -> None:
    kube_api.seed(namespace_object(DEFAULT_MANAGEMENT_NAMESPACE))
    seed_cluster(
        kube_api,
        hand.credentials,
        secret_ns=DEFAULT_MANAGEMENT_NAMESPACE,
        secret_name=f"{NAMESPACE}-{OPERATOR_SECRET_BASE_NAME}",
    )
    plan = adopt(sb, kube_client, placement="management")
    assert plan.secret is not None
    assert plan.secret.id == f"{DEFAULT_MANAGEMENT_NAMESPACE}/{NAMESPACE}-{OPERATOR_SECRET_BASE_NAME}"
    assert plan.binding is not None and plan.binding.id == hand.binding_id


def test_a_namespace_secret_that_shadows_the_management_one_is_refused(
    sb: SandboxServer, hand: HandMade, kube_api: KubeApiStandIn, kube_client: KubeClient
) -> None:
    seed_cluster(kube_api, hand.credentials)  # sap-btp-service-operator in the tenant namespace
    with pytest.raises(AdoptError, match="shadows the management-namespace Secret"):
        adopt(sb, kube_client, placement="management")


def test_a_secret_whose_credentials_belong_elsewhere_is_refused(
    sb: SandboxServer, hand: HandMade, kube_api: KubeApiStandIn, kube_client: KubeClient
) -> None:
    other = make_by_hand(sb.cis_service_key(), SUBACCOUNT_2)
    seed_cluster(kube_api, other.credentials)
    with pytest.raises(AdoptError) as info:
        adopt(sb, kube_client)
    (line,) = info.value.reasons
    assert line.startswith(f"secret {NAMESPACE}/{OPERATOR_SECRET_BASE_NAME}: its credentials (clientid)")
    assert f"are not those of any binding of instance {HAND_INSTANCE}" in line
    assert "would make the operator lose them" in line
    assert str(other.credentials["clientid"]) not in line


def test_a_namespace_served_by_the_cluster_default_is_refused_while_it_has_instances(
    sb: SandboxServer, hand: HandMade, kube_api: KubeApiStandIn, kube_client: KubeClient
) -> None:
    seed_cluster(kube_api, None)
    kube_api.seed(operator_object("ServiceInstance", NAMESPACE, "orders-db"))
    with pytest.raises(AdoptError, match=r"has 1 ServiceInstance\(s\) \(orders-db\) but no operator Secret"):
        adopt(sb, kube_client)


def test_an_empty_namespace_without_a_secret_is_imported_and_gets_the_stacks_secret(
    sb: SandboxServer, hand: HandMade, kube_api: KubeApiStandIn, kube_client: KubeClient, tmp_path: Path
) -> None:
    seed_cluster(kube_api, None)
    plan = adopt(sb, kube_client, binding_id=hand.binding_id)
    assert plan.imports == ["namespace"]
    config = load_stack_file(write_stack_file("orders", plan, stacks_dir=tmp_path, kube_context="kyma"))
    assert config.adopt is not None and config.adopt.imports == ("namespace",)


def test_several_operator_instances_need_an_instance_id(
    sb: SandboxServer, hand: HandMade, kube_api: KubeApiStandIn, kube_client: KubeClient
) -> None:
    second = make_by_hand(sb.cis_service_key(), SUBACCOUNT_1, instance_name="spare", binding_name="spare-b")
    seed_cluster(kube_api, hand.credentials)
    with pytest.raises(AdoptError, match="has 2 service-manager/service-operator-access instances"):
        adopt(sb, kube_client)
    plan = adopt(sb, kube_client, instance_id=hand.instance_id)
    assert plan.instance.id == hand.instance_id and plan.instance.id != second.instance_id


def test_without_a_cluster_the_btp_side_is_still_adopted(sb: SandboxServer, hand: HandMade) -> None:
    plan = adopt(sb, None)
    assert plan.binding is not None and plan.binding.id == hand.binding_id
    assert plan.imports == [] and plan.namespace_exists is None
    assert any("cluster was not asked" in note for note in plan.notes)


def test_nothing_made_yet_adopts_nothing(sb: SandboxServer, kube_client: KubeClient) -> None:
    plan = adopt(sb, kube_client)
    assert plan.instance is None and plan.binding is None and plan.imports == []


def test_bad_input_is_one_line_before_any_api_call(sb: SandboxServer) -> None:
    since = len(sb.calls())
    with pytest.raises(Exception, match="subaccountId: 'not-a-guid' — is not a GUID"):
        adopt(sb, None, subaccount_id="not-a-guid")
    assert sb.calls()[since:] == []


def test_further_entitlements_are_declared_with_the_amount_found(
    sb: SandboxServer, hand: HandMade, kube_client: KubeClient, tmp_path: Path
) -> None:
    from btp_infra.btp.entitlements import EntitlementsClient

    with EntitlementsClient(key_of(sb)) as entitlements:
        entitlements.assign(SUBACCOUNT_1, "hana-cloud", "hana", 2)
    plan = adopt(sb, kube_client, plans=[("hana-cloud", "hana")])
    assert plan.entitlements == [{"service": "hana-cloud", "plan": "hana", "amount": 2}]
    config = load_stack_file(write_stack_file("orders", plan, stacks_dir=tmp_path, kube_context="kyma"))
    assert [str(e) for e in config.entitlements] == ["hana-cloud/hana (amount 2)"]
    with pytest.raises(AdoptError, match="entitlement destination/lite: is not assigned to subaccount"):
        adopt(sb, kube_client, plans=[("destination", "lite")])

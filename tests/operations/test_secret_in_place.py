"""The operator Secret is updated in place when the binding's credentials change — never deleted and
re-created: pulumi-kubernetes' replacement rules as encoded in ``btp_infra.testing.kube_apply`` (read from
``provider/pkg/provider/diff.go`` ``forceNewProperties`` and ``provider.go`` ``Diff``), and the program's
registration of the Secret and of its provider, which must not defeat them."""

from __future__ import annotations

from typing import Any

import pytest

from btp_infra import program
from btp_infra.conventions import TYPE_KUBERNETES_PROVIDER, TYPE_SECRET
from btp_infra.offline.rendering import GraphMocks, RecordingMonitor, render
from btp_infra.testing.kube_apply import KubeApplier, kube_object, replace_reasons
from operations.rotation_support import SECRET_RESOURCE, tenant_config

METADATA: dict[str, Any] = {"name": "sap-btp-service-operator", "namespace": "orders", "labels": {"a": "b"}}
SECRET: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Secret",
    "type": "Opaque",
    "metadata": METADATA,
    "stringData": {"clientid": "old", "clientsecret": "old-secret"},
}


def changed(**parts: Any) -> dict[str, Any]:
    new = {**SECRET, **parts}
    return new


@pytest.mark.parametrize(
    ("new", "mutable", "step", "reasons"),
    [
        (changed(stringData={"clientid": "new", "clientsecret": "new-secret"}), True, "update", []),
        (changed(stringData={"clientid": "new"}), False, "replace", ["stringData"]),
        (changed(data={"clientid": "bmV3"}), False, "replace", ["data"]),
        (changed(type="kubernetes.io/tls"), True, "replace", ["type"]),
        (changed(immutable=True, stringData={"clientid": "new"}), True, "replace", ["stringData"]),
        (changed(metadata={**METADATA, "labels": {"a": "c"}}), False, "update", []),
        (
            changed(metadata={**METADATA, "namespace": "kyma-system"}),
            True,
            "replace",
            ["metadata.namespace"],
        ),
        (dict(SECRET), True, "same", []),
    ],
    ids=[
        "data-mutable",
        "data-immutable-default",
        "data-field",
        "type",
        "immutable",
        "labels",
        "moved",
        "same",
    ],
)
def test_pulumi_kubernetes_replacement_rules(
    new: dict[str, Any], mutable: bool, step: str, reasons: list[str]
) -> None:
    assert KubeApplier.plan(SECRET, new, enable_secret_mutable=mutable) == step
    if step != "same":
        assert replace_reasons(SECRET, new, enable_secret_mutable=mutable) == reasons


def test_a_replacement_keeping_the_name_deletes_first_a_moved_one_does_not() -> None:
    assert KubeApplier.delete_before_replace(SECRET, changed(type="x"))
    moved = changed(metadata={**METADATA, "namespace": "kyma-system"})
    assert not KubeApplier.delete_before_replace(SECRET, moved)


def test_namespace_label_changes_update_in_place() -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "orders", "labels": {"a": "b"}}}
    relabelled = {**ns, "metadata": {"name": "orders", "labels": {"a": "c"}}}
    assert KubeApplier.plan(ns, relabelled, enable_secret_mutable=False) == "update"


def test_kube_object_from_pulumi_inputs() -> None:
    obj = kube_object("kubernetes:core/v1:Secret", {"metadata": {"name": "s"}, "stringData": {"k": "v"}})
    assert obj["apiVersion"] == "v1" and obj["kind"] == "Secret"
    policy = kube_object("kubernetes:security.istio.io/v1beta1:PeerAuthentication", {"metadata": {}})
    assert policy["apiVersion"] == "security.istio.io/v1beta1"


class _Capturing(RecordingMonitor):
    def __init__(self) -> None:
        super().__init__(GraphMocks())
        self.requests: dict[str, Any] = {}

    def RegisterResource(self, request: Any) -> Any:
        self.requests[request.name] = request
        return super().RegisterResource(request)


def test_the_program_registers_the_secret_so_that_it_is_updated_in_place() -> None:
    monitor = _Capturing()
    result = render(
        "orders", tenant_config("7e5a3c1b-2d4f-4a6b-8c9d-0e1f2a3b4c5d"), program.main, monitor=monitor
    )
    assert result.error is None, result.error
    secret = monitor.requests[SECRET_RESOURCE]
    assert secret.type == TYPE_SECRET
    # nothing that would turn a data change into a replacement, or a replacement into delete-first
    assert not secret.deleteBeforeReplace and list(secret.replaceOnChanges) == []
    (rendered,) = result.of_type(TYPE_SECRET)
    inputs = rendered.plain_inputs
    assert inputs["type"] == "Opaque" and "immutable" not in inputs
    (provider,) = result.of_type(TYPE_KUBERNETES_PROVIDER)
    assert provider.plain_inputs["enableSecretMutable"] == "true"

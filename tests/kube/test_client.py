"""``btp_infra.kube.KubeClient`` on the stand-in API: kubeconfig as path, content or ``$KUBECONFIG`` with a
context, typed reads and writes, ``None``/``False`` for what is gone, one-line errors without secrets."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml
from kube_fixtures import (
    KUBE_CONTEXT,
    config_map_object,
    namespace_object,
    operator_object,
    pod_object,
    secret_object,
)

from btp_infra.conventions import OPERATOR_FINALIZER
from btp_infra.kube import KubeClient, KubeConfigError, KubeError, is_kubeconfig_path
from btp_infra.testing.kube_api import KubeApiStandIn

SECRET_VALUE = "client-secret-never-shown"


def test_kubeconfig_as_content_path_and_environment(
    kube_api: KubeApiStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kube_api.seed(namespace_object("orders"))
    text = kube_api.kubeconfig(context="kyma")
    path = tmp_path / "kubeconfig.yaml"
    path.write_text(text, encoding="utf-8")
    assert is_kubeconfig_path(str(path)) and not is_kubeconfig_path(text)
    monkeypatch.setenv("KUBECONFIG", str(path))
    for source in (text, str(path), yaml.safe_load(text), None):
        with KubeClient.from_kubeconfig(source, context="kyma") as client:
            ns = client.get_namespace("orders")
            assert ns is not None and ns.phase == "Active"
            assert client.host == kube_api.url


def test_the_context_chooses_the_cluster(kube_api: KubeApiStandIn) -> None:
    config = yaml.safe_load(kube_api.kubeconfig(context="real"))
    config["clusters"].append({"name": "other", "cluster": {"server": "http://127.0.0.1:9"}})
    config["contexts"].append({"name": "other", "context": {"cluster": "other", "user": "real-user"}})
    config["current-context"] = "other"
    with KubeClient.from_kubeconfig(config, context="real") as client:
        assert client.host == kube_api.url


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("apiVersion: v1\nkind: Config\n", "not a kubeconfig"),
        ("key: [unclosed\n", "not valid YAML"),
        ("/nowhere/kubeconfig.yaml", "no such file: /nowhere/kubeconfig.yaml"),
    ],
)
def test_unusable_kubeconfigs_are_one_line(source: str, expected: str) -> None:
    with pytest.raises(KubeConfigError) as info:
        KubeClient.from_kubeconfig(source, context="x")
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_an_unknown_context_names_the_valid_ones_not_the_token(kube_api: KubeApiStandIn) -> None:
    with pytest.raises(KubeConfigError) as info:
        KubeClient.from_kubeconfig(kube_api.kubeconfig(context="kyma"), context="prod")
    message = str(info.value)
    assert "'prod'" in message and "'kyma'" in message and kube_api.token not in message


def test_namespaces_read_list_and_label(kube_client: KubeClient, kube_api: KubeApiStandIn) -> None:
    kube_api.seed(namespace_object("orders", {"btp-infra.io/tenant": "orders", "istio-injection": "enabled"}))
    kube_api.seed(namespace_object("other"))
    assert kube_client.get_namespace("missing") is None
    assert [n.name for n in kube_client.list_namespaces("btp-infra.io/tenant")] == ["orders"]
    patched = kube_client.patch_namespace_labels("orders", {"istio-injection": None, "team": "a"})
    assert patched.labels == {
        "btp-infra.io/tenant": "orders",
        "team": "a",
        "kubernetes.io/metadata.name": "orders",
    }
    assert kube_api.requests("PATCH")[-1].content_type == "application/merge-patch+json"


def test_secrets_typed_and_never_in_repr(kube_client: KubeClient, kube_api: KubeApiStandIn) -> None:
    kube_api.seed(namespace_object("orders"))
    kube_api.seed(namespace_object("kyma-system"))
    created = kube_client.create_secret(
        "orders", "op", {"clientid": "id", "clientsecret": SECRET_VALUE}, labels={"app": "op"}
    )
    assert created.data == {"clientid": "id", "clientsecret": SECRET_VALUE}
    assert SECRET_VALUE not in repr(created)
    assert kube_client.get_secret("orders", "missing") is None
    kube_api.seed(secret_object("kyma-system", "orders-op", {"clientid": "x"}, {"app": "op"}))
    assert sorted((s.namespace, s.name) for s in kube_client.list_secrets(None, "app=op")) == [
        ("kyma-system", "orders-op"),
        ("orders", "op"),
    ]
    assert [s.name for s in kube_client.list_secrets("orders")] == ["op"]
    patched = kube_client.patch_secret(
        "orders", "op", data={"clientsecret": "rotated", "clientid": None}, labels={"rotated": "1"}
    )
    assert patched.data == {"clientsecret": "rotated"} and patched.labels == {"app": "op", "rotated": "1"}
    replaced = kube_client.replace_secret(
        "orders", "op", {"clientid": "new"}, labels={"app": "op"}, resource_version=patched.resource_version
    )
    assert replaced.data == {"clientid": "new"}
    with pytest.raises(KubeError) as info:
        kube_client.replace_secret(
            "orders", "op", {"clientid": "stale"}, resource_version=patched.resource_version
        )
    assert info.value.status == 409 and info.value.reason == "Conflict"
    with pytest.raises(KubeError) as info:
        kube_client.patch_secret("orders", "op", data={"a": "b"}, resource_version=patched.resource_version)
    assert info.value.reason == "Conflict"
    assert kube_api.secret_data("orders", "op") == {"clientid": "new"}
    assert kube_client.delete_secret("orders", "op") is True
    assert kube_client.delete_secret("orders", "op") is False


def test_already_exists_is_an_error_with_its_reason(
    kube_client: KubeClient, kube_api: KubeApiStandIn
) -> None:
    kube_api.seed(namespace_object("orders"))
    kube_client.create_secret("orders", "op", {"clientsecret": SECRET_VALUE})
    with pytest.raises(KubeError) as info:
        kube_client.create_secret("orders", "op", {"clientsecret": SECRET_VALUE})
    assert info.value.reason == "AlreadyExists" and info.value.status == 409
    assert str(info.value) == ('create secret orders/op: 409 AlreadyExists: secrets "op" already exists')


def test_pods_show_containers_annotations_and_times(
    kube_client: KubeClient, kube_api: KubeApiStandIn
) -> None:
    kube_api.seed(namespace_object("orders"))
    kube_api.seed(
        pod_object(
            "orders",
            "web",
            ("app", "istio-proxy"),
            {"sidecar.istio.io/status": "{}"},
            created="2026-03-01T10:00:00Z",
        )
    )
    (pod,) = kube_client.list_pods("orders")
    assert pod.containers == ("app", "istio-proxy") and "sidecar.istio.io/status" in pod.annotations
    assert pod.creation_timestamp is not None and pod.creation_timestamp.startswith("2026-03-01T10:00:00")
    assert pod.phase == "Running"


def test_operator_objects_list_delete_and_wait_for_the_finalizer(
    kube_client: KubeClient, kube_api: KubeApiStandIn
) -> None:
    kube_api.seed(namespace_object("orders"))
    kube_api.seed(operator_object("ServiceInstance", "orders", "db"))
    kube_api.seed(operator_object("ServiceBinding", "orders", "db-binding", ready=False))
    (instance,) = kube_client.list_operator_objects("ServiceInstance", "orders")
    assert (
        instance.kind == "ServiceInstance" and instance.ready and instance.finalizers == (OPERATOR_FINALIZER,)
    )
    (binding,) = kube_client.list_operator_objects("ServiceBinding")
    assert binding.kind == "ServiceBinding" and not binding.ready
    assert kube_client.delete_operator_object("ServiceInstance", "orders", "db") is True
    pending = kube_client.get_operator_object("ServiceInstance", "orders", "db")
    assert pending is not None and pending.deletion_timestamp is not None
    kube_api.operator.reconcile()
    assert kube_client.get_operator_object("ServiceInstance", "orders", "db") is None
    assert kube_client.delete_operator_object("ServiceInstance", "orders", "db") is False


def test_operator_objects_without_the_crds_are_none(
    kube_client: KubeClient, kube_api: KubeApiStandIn
) -> None:
    kube_api.fail(
        "GET",
        "/apis/services.cloud.sap.com/*",
        404,
        message="the server could not find the requested resource",
    )
    assert kube_client.list_operator_objects("ServiceInstance", "orders") == []


def test_api_failures_are_one_line_without_secrets(kube_client: KubeClient, kube_api: KubeApiStandIn) -> None:
    kube_api.seed(namespace_object("orders"))
    kube_api.fail("PATCH", "/api/v1/namespaces/orders/secrets/op", 500, message="etcd\nunavailable")
    with pytest.raises(KubeError) as info:
        kube_client.patch_secret("orders", "op", data={"clientsecret": SECRET_VALUE})
    message = str(info.value)
    assert message == "patch secret orders/op: 500 InternalError: etcd unavailable"
    assert SECRET_VALUE not in message and kube_api.token not in message


def test_an_unreachable_server_is_one_line(kube_api: KubeApiStandIn) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    config = yaml.safe_load(kube_api.kubeconfig(context=KUBE_CONTEXT))
    config["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{port}"
    with KubeClient.from_kubeconfig(config, context=KUBE_CONTEXT) as client:
        client.api_client.configuration.retries = 0
        with pytest.raises(KubeError) as info:
            client.get_namespace("orders")
    assert str(info.value).startswith(
        f"get namespace orders: cannot reach the Kubernetes API at http://127.0.0.1:{port}"
    )
    assert kube_api.token not in str(info.value)


def test_a_file_that_is_no_kubeconfig_is_named_so(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig.yaml"
    path.write_text("just text\n", encoding="utf-8")
    with pytest.raises(KubeConfigError) as info:
        KubeClient.from_kubeconfig(str(path), context="x")
    assert str(info.value) == "kubeconfig: not a kubeconfig (no clusters)"


def test_namespaces_create_annotate_and_delete(kube_client: KubeClient, kube_api: KubeApiStandIn) -> None:
    created = kube_client.create_namespace("orders", labels={"team": "a"}, annotations={"note": "x"})
    assert created.labels["team"] == "a" and created.annotations == {"note": "x"}
    with pytest.raises(KubeError) as info:
        kube_client.create_namespace("orders")
    assert info.value.reason == "AlreadyExists"
    patched = kube_client.patch_namespace(
        "orders", annotations={"note": None, "adopted": "true"}, labels={"b": "1"}
    )
    assert (
        patched.annotations == {"adopted": "true"}
        and patched.labels["team"] == "a"
        and patched.labels["b"] == "1"
    )
    kube_api.seed(operator_object("ServiceInstance", "orders", "db"))
    assert kube_client.delete_namespace("orders") is True
    terminating = kube_client.get_namespace("orders")
    assert terminating is not None and terminating.phase == "Terminating"
    kube_api.operator.reconcile()
    assert kube_client.get_namespace("orders") is None
    assert kube_client.delete_namespace("orders") is False


def test_config_maps_read_as_data(kube_client: KubeClient, kube_api: KubeApiStandIn) -> None:
    kube_api.seed(namespace_object("kyma-system"))
    kube_api.seed(
        config_map_object("kyma-system", "sap-btp-operator-config", {"MANAGEMENT_NAMESPACE": "kyma-system"})
    )
    assert kube_client.get_config_map("kyma-system", "sap-btp-operator-config") == {
        "MANAGEMENT_NAMESPACE": "kyma-system"
    }
    assert kube_client.get_config_map("kyma-system", "missing") is None

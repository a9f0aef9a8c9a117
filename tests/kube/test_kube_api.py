"""The stand-in Kubernetes API through the official ``kubernetes`` client (real HTTP): its models deserialize
what the stand-in answers; CRUD, selectors, conflicts, finalizers, terminating namespaces, faults, the request
log and its redaction of Secret values."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kube_fixtures import namespace_object, operator_object, pod_object, secret_object
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from btp_infra.conventions import OPERATOR_API_GROUP, OPERATOR_FINALIZER
from btp_infra.testing.kube_api import REDACTED, KubeApiStandIn

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
SECRET_VALUE = "s3cr3t-value-must-not-be-logged"


@pytest.fixture
def api(kube_api: KubeApiStandIn) -> Iterator[k8s.ApiClient]:
    client = new_client(yaml.safe_load(kube_api.kubeconfig(context="t")), context="t", persist_config=False)
    try:
        yield client
    finally:
        client.close()


def core(api: k8s.ApiClient) -> Any:
    return k8s.CoreV1Api(api)


def custom(api: k8s.ApiClient) -> Any:
    return k8s.CustomObjectsApi(api)


def networking(api: k8s.ApiClient) -> Any:
    return k8s.NetworkingV1Api(api)


def new_client(config: Any, **kwargs: Any) -> Any:
    """An ``ApiClient`` from the official loader (untyped in the client)."""
    loader: Any = k8s_config.new_client_from_config_dict
    return loader(config, **kwargs)


def status_of(exc: ApiException) -> dict[str, Any]:
    return dict(json.loads(str(exc.body)))


def test_models_deserialize_what_the_stand_in_stores(kube_api: KubeApiStandIn, api: k8s.ApiClient) -> None:
    kube_api.seed(namespace_object("orders", {"istio-injection": "enabled"}))
    kube_api.seed(pod_object("orders", "web-1", ("app", "istio-proxy"), created="2026-01-01T00:00:00Z"))
    ns = core(api).read_namespace("orders")
    assert type(ns).__name__ == "V1Namespace"  # the model, deserialized
    assert ns.metadata.labels["istio-injection"] == "enabled"
    assert ns.status.phase == "Active" and ns.metadata.uid and ns.metadata.resource_version
    assert ns.metadata.creation_timestamp is not None
    pods = core(api).list_namespaced_pod("orders")
    assert type(pods).__name__ == "V1PodList"
    assert [c.name for c in pods.items[0].spec.containers] == ["app", "istio-proxy"]
    assert pods.items[0].metadata.creation_timestamp.year == 2026


def test_secret_create_get_and_string_data(kube_api: KubeApiStandIn, api: k8s.ApiClient) -> None:
    kube_api.seed(namespace_object("orders"))
    body = {"metadata": {"name": "s", "labels": {"a": "1"}}, "stringData": {"clientsecret": SECRET_VALUE}}
    created = core(api).create_namespaced_secret("orders", body)
    assert type(created).__name__ == "V1Secret"
    assert created.string_data is None  # write-only, folded into data
    assert base64.b64decode(created.data["clientsecret"]).decode() == SECRET_VALUE
    assert created.type == "Opaque" and created.metadata.namespace == "orders"
    again = core(api).read_namespaced_secret("s", "orders")
    assert again.metadata.resource_version == created.metadata.resource_version


def test_create_twice_is_already_exists_and_missing_is_not_found(
    kube_api: KubeApiStandIn, api: k8s.ApiClient
) -> None:
    kube_api.seed(namespace_object("orders"))
    core(api).create_namespaced_secret("orders", {"metadata": {"name": "s"}})
    with pytest.raises(ApiException) as info:
        core(api).create_namespaced_secret("orders", {"metadata": {"name": "s"}})
    assert info.value.status == 409
    body = status_of(info.value)
    assert body["kind"] == "Status" and body["reason"] == "AlreadyExists" and body["code"] == 409
    assert body["message"] == 'secrets "s" already exists'
    with pytest.raises(ApiException) as info:
        core(api).read_namespaced_secret("nope", "orders")
    assert status_of(info.value)["reason"] == "NotFound"
    assert status_of(info.value)["details"] == {"name": "nope", "kind": "secrets"}


def test_creating_in_a_missing_namespace_is_not_found(kube_api: KubeApiStandIn, api: k8s.ApiClient) -> None:
    with pytest.raises(ApiException) as info:
        core(api).create_namespaced_secret("ghost", {"metadata": {"name": "s"}})
    assert info.value.status == 404
    assert status_of(info.value)["message"] == 'namespaces "ghost" not found'


def test_label_and_field_selectors(kube_api: KubeApiStandIn, api: k8s.ApiClient) -> None:
    for ns in ("a", "b"):
        kube_api.seed(namespace_object(ns))
    kube_api.seed(secret_object("a", "one", {}, {"tier": "gold", "team": "x"}))
    kube_api.seed(secret_object("a", "two", {}, {"tier": "silver"}))
    kube_api.seed(secret_object("b", "three", {}, {"tier": "gold"}))

    def names(**kw: Any) -> list[str]:
        namespace = kw.pop("namespace", None)
        if namespace:
            result = core(api).list_namespaced_secret(namespace, **kw)
        else:
            result = core(api).list_secret_for_all_namespaces(**kw)
        return sorted(s.metadata.name for s in result.items)

    assert names(label_selector="tier=gold") == ["one", "three"]
    assert names(label_selector="tier==gold", namespace="a") == ["one"]
    assert names(label_selector="tier!=gold") == ["two"]
    assert names(label_selector="team") == ["one"]
    assert names(label_selector="!team") == ["three", "two"]
    assert names(label_selector="tier in (gold, bronze),!team") == ["three"]
    assert names(label_selector="tier notin (gold)") == ["two"]
    assert names(field_selector="metadata.name=two") == ["two"]
    assert names(field_selector="metadata.namespace=b") == ["three"]
    with pytest.raises(ApiException) as info:
        names(field_selector="spec.nodeName=x")
    assert info.value.status == 400


def test_put_with_stale_resource_version_is_a_conflict(kube_api: KubeApiStandIn, api: k8s.ApiClient) -> None:
    kube_api.seed(namespace_object("orders"))
    first = core(api).create_namespaced_secret(
        "orders", {"metadata": {"name": "s"}, "stringData": {"k": "1"}}
    )
    stale = first.metadata.resource_version
    body = {"metadata": {"name": "s", "resourceVersion": stale}, "stringData": {"k": "2"}}
    updated = core(api).replace_namespaced_secret("s", "orders", body)
    assert updated.metadata.resource_version != stale
    assert updated.metadata.uid == first.metadata.uid
    with pytest.raises(ApiException) as info:
        core(api).replace_namespaced_secret("s", "orders", body)
    assert info.value.status == 409 and status_of(info.value)["reason"] == "Conflict"
    assert kube_api.secret_data("orders", "s") == {"k": "2"}


def test_patches_merge_and_json_patch(kube_api: KubeApiStandIn, api: k8s.ApiClient) -> None:
    kube_api.seed(namespace_object("orders", {"a": "1", "b": "2"}))
    patched = core(api).patch_namespace(
        "orders", {"metadata": {"labels": {"a": None, "c": "3"}}}, _content_type=MERGE
    )
    assert "a" not in patched.metadata.labels and patched.metadata.labels["c"] == "3"
    strategic = "application/strategic-merge-patch+json"
    patched = core(api).patch_namespace(
        "orders", {"metadata": {"labels": {"d": "4"}}}, _content_type=strategic
    )
    assert patched.metadata.labels["b"] == "2" and patched.metadata.labels["d"] == "4"
    ops = [
        {"op": "replace", "path": "/metadata/labels/b", "value": "20"},
        {"op": "remove", "path": "/metadata/labels/d"},
    ]
    patched = core(api).patch_namespace("orders", ops, _content_type=JSON_PATCH)
    assert patched.metadata.labels["b"] == "20" and "d" not in patched.metadata.labels
    with pytest.raises(ApiException) as info:
        core(api).patch_namespace("orders", [{"op": "test", "path": "/metadata/labels/b", "value": "x"}])
    assert info.value.status == 422
    # client 37 sends a mapping to a built-in kind as strategic merge; custom resources refuse that (415)
    core(api).patch_namespace("orders", {"metadata": {"labels": {"e": "5"}}})
    assert kube_api.requests("PATCH")[-1].content_type == strategic
    kube_api.seed(operator_object("ServiceInstance", "orders", "db"))
    args = (OPERATOR_API_GROUP, "v1", "orders", "serviceinstances", "db")
    with pytest.raises(ApiException) as info:
        custom(api).patch_namespaced_custom_object(*args, {"metadata": {}}, _content_type=strategic)
    assert info.value.status == 415
    patched_cr = custom(api).patch_namespaced_custom_object(
        *args, {"metadata": {"labels": {"e": "5"}}}, _content_type=MERGE
    )
    assert patched_cr["metadata"]["labels"] == {"e": "5"}


def test_finalizers_keep_a_deleted_object_until_removed(kube_api: KubeApiStandIn, api: k8s.ApiClient) -> None:
    kube_api.seed(namespace_object("orders"))
    kube_api.seed(operator_object("ServiceInstance", "orders", "db"))
    args = (OPERATOR_API_GROUP, "v1", "orders", "serviceinstances")
    custom(api).delete_namespaced_custom_object(*args, "db")
    still = custom(api).get_namespaced_custom_object(*args, "db")
    assert still["metadata"]["deletionTimestamp"] and still["metadata"]["finalizers"] == [OPERATOR_FINALIZER]
    patch = {"metadata": {"finalizers": None}}
    custom(api).patch_namespaced_custom_object(*args, "db", patch, _content_type=MERGE)
    with pytest.raises(ApiException) as info:
        custom(api).get_namespaced_custom_object(*args, "db")
    assert info.value.status == 404


def test_the_operator_hook_finalizes_after_n_calls_or_never(
    kube_api: KubeApiStandIn, api: k8s.ApiClient
) -> None:
    kube_api.seed(namespace_object("orders"))
    kube_api.seed(operator_object("ServiceBinding", "orders", "b1"))
    kube_api.seed(operator_object("ServiceBinding", "orders", "b2"))
    args = (OPERATOR_API_GROUP, "v1", "orders", "servicebindings")
    custom(api).delete_namespaced_custom_object(*args, "b1")
    kube_api.operator.finalize_after = 2
    assert kube_api.operator.reconcile() == []
    assert kube_api.operator.reconcile() == ["orders/b1"]
    assert [o["metadata"]["name"] for o in kube_api.objects("servicebindings", group=OPERATOR_API_GROUP)] == [
        "b2"
    ]
    kube_api.operator.stuck = True
    custom(api).delete_namespaced_custom_object(*args, "b2")
    for _ in range(3):
        assert kube_api.operator.reconcile() == []
    assert kube_api.get("servicebindings", "b2", "orders", OPERATOR_API_GROUP) is not None


def test_a_namespace_with_content_terminates_until_its_content_is_gone(
    kube_api: KubeApiStandIn, api: k8s.ApiClient
) -> None:
    kube_api.seed(namespace_object("orders"))
    kube_api.seed(secret_object("orders", "plain", {}))
    kube_api.seed(operator_object("ServiceInstance", "orders", "db"))
    core(api).delete_namespace("orders")
    ns = core(api).read_namespace("orders")
    assert ns.status.phase == "Terminating" and ns.metadata.deletion_timestamp is not None
    assert kube_api.get("secrets", "plain", "orders") is None  # content without finalizers goes at once
    with pytest.raises(ApiException) as info:
        core(api).create_namespaced_secret("orders", {"metadata": {"name": "late"}})
    assert info.value.status == 403 and "being terminated" in status_of(info.value)["message"]
    assert kube_api.operator.reconcile() == ["orders/db"]
    with pytest.raises(ApiException) as info:
        core(api).read_namespace("orders")
    assert info.value.status == 404


def test_an_empty_namespace_goes_at_once(kube_api: KubeApiStandIn, api: k8s.ApiClient) -> None:
    kube_api.seed(namespace_object("orders"))
    core(api).delete_namespace("orders")
    assert kube_api.get("namespaces", "orders") is None


def test_istio_versions_share_one_storage(kube_api: KubeApiStandIn, api: k8s.ApiClient) -> None:
    kube_api.seed(namespace_object("orders"))
    body = {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "default"},
        "spec": {"mtls": {"mode": "STRICT"}},
    }
    custom(api).create_namespaced_custom_object(
        "security.istio.io", "v1", "orders", "peerauthentications", body
    )
    old = custom(api).get_namespaced_custom_object(
        "security.istio.io", "v1beta1", "orders", "peerauthentications", "default"
    )
    assert old["apiVersion"] == "security.istio.io/v1beta1" and old["spec"]["mtls"]["mode"] == "STRICT"
    assert old["metadata"]["generation"] == 1


def test_other_served_resources(kube_api: KubeApiStandIn, api: k8s.ApiClient) -> None:
    kube_api.seed(namespace_object("orders"))
    core(api).create_namespaced_resource_quota(
        "orders", {"metadata": {"name": "q"}, "spec": {"hard": {"pods": "10"}}}
    )
    core(api).create_namespaced_limit_range("orders", {"metadata": {"name": "l"}, "spec": {"limits": []}})
    core(api).create_namespaced_service_account("orders", {"metadata": {"name": "sa"}})
    networking(api).create_namespaced_network_policy(
        "orders", {"metadata": {"name": "deny"}, "spec": {"podSelector": {}}}
    )
    assert core(api).read_namespaced_resource_quota("q", "orders").spec.hard == {"pods": "10"}
    assert [p.metadata.name for p in networking(api).list_namespaced_network_policy("orders").items] == [
        "deny"
    ]
    with pytest.raises(ApiException) as info:
        custom(api).list_cluster_custom_object("example.test", "v1", "widgets")
    assert info.value.status == 404


def test_faults_answer_the_next_matching_requests(kube_api: KubeApiStandIn, api: k8s.ApiClient) -> None:
    kube_api.seed(namespace_object("orders"))
    kube_api.fail("GET", "/api/v1/namespaces/*/secrets", 503, count=2)
    for _ in range(2):
        with pytest.raises(ApiException) as info:
            core(api).list_namespaced_secret("orders")
        assert info.value.status == 503 and status_of(info.value)["reason"] == "ServiceUnavailable"
    assert core(api).list_namespaced_secret("orders").items == []
    kube_api.fail("*", "/api/v1/namespaces/orders", 409, reason="Conflict", message="busy")
    with pytest.raises(ApiException) as info:
        core(api).read_namespace("orders")
    assert status_of(info.value)["message"] == "busy"


def test_a_wrong_token_is_unauthorized(kube_api: KubeApiStandIn) -> None:
    config = yaml.safe_load(kube_api.kubeconfig(context="t"))
    config["users"][0]["user"]["token"] = "wrong"
    client = new_client(config, context="t", persist_config=False)
    try:
        with pytest.raises(ApiException) as info:
            k8s.CoreV1Api(client).list_namespace()
        assert info.value.status == 401
    finally:
        client.close()


def test_the_request_log_redacts_secret_values(kube_api: KubeApiStandIn, api: k8s.ApiClient) -> None:
    kube_api.seed(namespace_object("orders"))
    encoded = base64.b64encode(SECRET_VALUE.encode()).decode()
    core(api).create_namespaced_secret(
        "orders", {"metadata": {"name": "s"}, "data": {"clientsecret": encoded}}
    )
    core(api).patch_namespaced_secret("s", "orders", {"stringData": {"k": SECRET_VALUE}}, _content_type=MERGE)
    core(api).patch_namespaced_secret(
        "s",
        "orders",
        [{"op": "add", "path": "/data/x", "value": encoded}],
        _content_type=JSON_PATCH,
    )
    core(api).patch_namespaced_secret(
        "s", "orders", [{"op": "replace", "path": "/data", "value": {"y": encoded}}], _content_type=JSON_PATCH
    )
    core(api).read_namespaced_secret("s", "orders")
    log = kube_api.requests(resource="secrets")
    assert [(r.method, r.status) for r in log] == [
        ("POST", 201),
        ("PATCH", 200),
        ("PATCH", 200),
        ("PATCH", 200),
        ("GET", 200),
    ]
    assert log[0].body["data"] == {"clientsecret": REDACTED}
    assert log[1].body["stringData"] == {"k": REDACTED}
    assert log[2].body[0]["value"] == REDACTED
    assert log[3].body[0]["value"] == {"y": REDACTED}
    assert log[1].content_type == MERGE and log[1].name == "s"
    text = repr(kube_api.requests())
    assert SECRET_VALUE not in text and encoded not in text
    assert kube_api.secret_data("orders", "s") == {"y": SECRET_VALUE}  # the last patch replaced all data
    assert [r.method for r in kube_api.requests(writes=True)] == ["POST", "PATCH", "PATCH", "PATCH"]


def test_dry_run_writes_persist_nothing(kube_api: KubeApiStandIn, api: k8s.ApiClient) -> None:
    kube_api.seed(namespace_object("orders"))
    created = core(api).create_namespaced_secret("orders", {"metadata": {"name": "s"}}, dry_run="All")
    assert created.metadata.name == "s" and kube_api.get("secrets", "s", "orders") is None
    core(api).delete_namespace("orders", dry_run="All")
    assert kube_api.get("namespaces", "orders") is not None
    assert [r.query for r in kube_api.requests(writes=True)] == [{"dryRun": "All"}, {"dryRun": "All"}]

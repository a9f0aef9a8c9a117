"""The suite's stand-in Kubernetes API fixtures (``btp_infra.testing.kube_api``), registered for every test by
tests/conftest.py.

- ``shared_kube_api`` (module scope): one stand-in per module on 127.0.0.1, stopped after the module;
- ``kube_api``: that stand-in, emptied (store, request log, faults, operator settings) before the test;
- ``kube_client``: a :class:`btp_infra.kube.KubeClient` on it (context :data:`KUBE_CONTEXT`), closed after.

Plain names too: ``KUBE_CONTEXT``, and ``namespace_object`` / ``secret_object`` / ``config_map_object`` /
``pod_object`` / ``operator_object`` to seed the shapes kube-apiserver stores
(``from kube_fixtures import ...``).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from btp_infra.conventions import OPERATOR_API_GROUP, OPERATOR_API_VERSION, OPERATOR_FINALIZER
from btp_infra.kube import KubeClient
from btp_infra.testing.kube_api import KubeApiStandIn

__all__ = [
    "KUBE_CONTEXT",
    "config_map_object",
    "kube_api",
    "kube_client",
    "namespace_object",
    "operator_object",
    "pod_object",
    "secret_object",
    "shared_kube_api",
]

KUBE_CONTEXT = "stand-in"


@pytest.fixture(scope="module")
def shared_kube_api() -> Iterator[KubeApiStandIn]:
    """The module's stand-in Kubernetes API, stopped after the module."""
    with KubeApiStandIn() as server:
        yield server


@pytest.fixture
def kube_api(shared_kube_api: KubeApiStandIn) -> KubeApiStandIn:
    """The module's stand-in, emptied: no objects, no requests logged, no faults, the operator's defaults."""
    shared_kube_api.reset()
    return shared_kube_api


@pytest.fixture
def kube_client(kube_api: KubeApiStandIn) -> Iterator[KubeClient]:
    """The official client on the stand-in through :class:`KubeClient` (kubeconfig content + context)."""
    client = KubeClient.from_kubeconfig(kube_api.kubeconfig(context=KUBE_CONTEXT), context=KUBE_CONTEXT)
    try:
        yield client
    finally:
        client.close()


def namespace_object(name: str, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": dict(labels or {})}}


def secret_object(
    namespace: str, name: str, data: Mapping[str, str], labels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def config_map_object(namespace: str, name: str, data: Mapping[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": dict(data),
    }


def pod_object(
    namespace: str,
    name: str,
    containers: tuple[str, ...] = ("app",),
    annotations: Mapping[str, str] | None = None,
    created: str | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "annotations": dict(annotations or {})}
    if created:
        meta["creationTimestamp"] = created
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"containers": [{"name": c, "image": f"example.test/{c}:1"} for c in containers]},
        "status": {"phase": "Running", **({"startTime": created} if created else {})},
    }


def operator_object(
    kind: str, namespace: str, name: str, *, ready: bool = True, finalizer: bool = True
) -> dict[str, Any]:
    """A ``ServiceInstance`` or ``ServiceBinding`` as the operator leaves it (finalizer, Ready condition)."""
    spec: dict[str, Any] = (
        {"serviceOfferingName": "xsuaa", "servicePlanName": "application"}
        if kind == "ServiceInstance"
        else {"serviceInstanceName": f"{name}-instance"}
    )
    return {
        "apiVersion": f"{OPERATOR_API_GROUP}/{OPERATOR_API_VERSION}",
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "finalizers": [OPERATOR_FINALIZER] if finalizer else [],
        },
        "spec": spec,
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "reason": "Provisioned" if ready else "InProgress",
                }
            ]
        },
    }

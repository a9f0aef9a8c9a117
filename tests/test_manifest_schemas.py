"""Every Kubernetes object btp-infra produces, checked against Kubernetes' published schemas.

The example stacks (and one with every guardrail on) are rendered with the real program under mocks; each
``kubernetes:*`` resource's inputs become the manifest pulumi-kubernetes would send (apiVersion and kind from
the type token, the inputs as fields), validated strictly — unknown fields are errors — with
``kubernetes-validate`` (the schemas published from the Kubernetes OpenAPI, bundled per version). Istio's
PeerAuthentication is not a Kubernetes type: its group, version and spec are checked against Istio's API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from btp_infra import program
from btp_infra.config import engine_config, engine_values
from btp_infra.offline import rendering
from btp_infra.offline.graph import RenderedResource

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples" / "stacks").glob("Pulumi.*.yaml"))
#: The oldest Kubernetes minor the schemas are checked for, and the newest bundled.
VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
FULL_BASELINE = {
    "btp-infra:namespace": "orders",
    "btp-infra:subaccountId": "553bcbbb-e809-450f-82db-60de3ef76b1f",
    "btp-infra:kubeContext": "kyma",
    "btp-infra:networkPolicy": "default-deny",
    "btp-infra:mtls": True,
    "btp-infra:quota": {"requests.cpu": "4", "limits.memory": "16Gi", "pods": "50"},
    "btp-infra:limitRange": {
        "default": {"cpu": "500m", "memory": "512Mi"},
        "defaultRequest": {"cpu": "100m"},
    },
    "btp-infra:labels": {"cost-center": "cc-4711"},
}


def renders() -> dict[str, list[RenderedResource]]:
    found = {
        path.name: rendering.render(path.stem.split(".", 1)[1], engine_config(path), program.main).resources
        for path in EXAMPLES
    }
    found["full-baseline"] = rendering.render("orders", engine_values(FULL_BASELINE), program.main).resources
    return found


RENDERS = renders()


def manifest(resource: RenderedResource) -> dict[str, Any]:
    """The object as pulumi-kubernetes sends it: ``kubernetes:<group>/<version>:<Kind>`` → apiVersion/kind."""
    _, rest = resource.type.split(":", 1)
    group_version, kind = rest.rsplit(":", 1)
    group, version = group_version.split("/")
    api_version = version if group == "core" else f"{group}/{version}"
    return {"apiVersion": api_version, "kind": kind, **resource.plain_inputs}


KUBERNETES: list[tuple[str, RenderedResource]] = [
    (stack, r)
    for stack, resources in RENDERS.items()
    for r in resources
    if r.type.startswith("kubernetes:") and not r.type.startswith("kubernetes:security.istio.io")
]
CASES = [pytest.param(r, id=f"{stack}:{r.name}") for stack, r in KUBERNETES]


def test_every_kind_btp_infra_produces_is_covered() -> None:
    kinds = {r.type for _, r in KUBERNETES}
    assert kinds == {
        "kubernetes:core/v1:Namespace",
        "kubernetes:core/v1:Secret",
        "kubernetes:core/v1:ResourceQuota",
        "kubernetes:core/v1:LimitRange",
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    }


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("resource", CASES)
def test_manifest_matches_the_kubernetes_schema(resource: RenderedResource, version: str) -> None:
    kubernetes_validate.validate(manifest(resource), version, strict=True)


def test_the_schema_check_can_fail() -> None:
    namespace = next(r for _, r in KUBERNETES if r.type.endswith(":Namespace"))
    bad = {**manifest(namespace), "spec": {"finalizers": "kubernetes"}}  # a string, not a list
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, VERSIONS[-1], strict=True)
    extra = {**manifest(namespace), "metadata": {**manifest(namespace)["metadata"], "lables": {}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(extra, VERSIONS[-1], strict=True)


def test_peer_authentication_is_istios_v1_strict_mtls() -> None:
    [peer] = [r for r in RENDERS["full-baseline"] if r.type.startswith("kubernetes:security.istio.io")]
    inputs = peer.plain_inputs
    assert peer.type == "kubernetes:security.istio.io/v1:PeerAuthentication"
    assert inputs["apiVersion"] == "security.istio.io/v1" and inputs["kind"] == "PeerAuthentication"
    assert inputs["spec"] == {"mtls": {"mode": "STRICT"}}  # Istio's PeerAuthentication.MutualTLS.Mode
    assert set(inputs["metadata"]) == {"name", "namespace", "labels"}

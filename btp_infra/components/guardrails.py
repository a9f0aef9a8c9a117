"""Kubernetes guardrails for a tenant namespace: quota, limit range, network policies, Istio mTLS.

Plain builders, called by ``TenantNamespace`` with its child options and :class:`GuardrailArgs`.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from btp_infra.components.args import GuardrailArgs

QUOTA_NAME = "tenant-quota"
LIMIT_RANGE_NAME = "tenant-limits"
PEER_AUTHENTICATION_NAME = "default"
PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]


def _ns_selector(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def network_policy_specs() -> dict[str, Any]:
    """Default-deny plus the allows a Kyma tenant needs (pain point H3), by policy name."""
    all_pods: dict[str, Any] = {}
    dns_ports = [{"protocol": p, "port": port} for port in (53, 8053) for p in ("UDP", "TCP")]
    return {
        "default-deny": {"podSelector": all_pods, "policyTypes": ["Ingress", "Egress"]},
        "allow-same-namespace": {
            "podSelector": all_pods,
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": {}}]}],
            "egress": [{"to": [{"podSelector": {}}]}],
        },
        # Istio ingress gateway in, istiod (xDS, 15012) and gateways out.
        "allow-istio-system": {
            "podSelector": all_pods,
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [_ns_selector("istio-system")]}],
            "egress": [{"to": [_ns_selector("istio-system")]}],
        },
        # Kyma's monitoring and telemetry agents scrape from kyma-system.
        "allow-kyma-system-ingress": {
            "podSelector": all_pods,
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [_ns_selector("kyma-system")]}],
        },
        "allow-dns-egress": {
            "podSelector": all_pods,
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            **_ns_selector("kube-system"),
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }
                    ],
                    "ports": dns_ports,
                }
            ],
        },
        # BTP services (XSUAA, HANA, destination…) and the API server are outside the cluster, on HTTPS.
        "allow-https-egress": {
            "podSelector": all_pods,
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": PRIVATE_RANGES}}],
                    "ports": [{"protocol": "TCP", "port": 443}],
                }
            ],
        },
    }


def _spec(value: dict[str, Any]) -> Any:
    """Plain dict specs are valid inputs; the SDK's TypedDict overloads just cannot see it."""
    return value


def build_guardrails(
    prefix: str, namespace: pulumi.Input[str], args: GuardrailArgs, opts: pulumi.ResourceOptions
) -> list[pulumi.Resource]:
    """Create the configured guardrails in ``namespace``; returns the resources created."""
    created: list[pulumi.Resource] = []
    labels = dict(args.labels)

    def meta(name: str) -> Any:
        return {"name": name, "namespace": namespace, "labels": labels}

    if args.quota is not None:
        created.append(
            k8s.core.v1.ResourceQuota(
                f"{prefix}-quota",
                metadata=meta(QUOTA_NAME),
                spec=_spec({"hard": dict(args.quota)}),
                opts=opts,
            )
        )
    if args.container_limits is not None:
        created.append(
            k8s.core.v1.LimitRange(
                f"{prefix}-limits",
                metadata=meta(LIMIT_RANGE_NAME),
                spec=_spec({"limits": [dict(args.container_limits)]}),
                opts=opts,
            )
        )
    if args.network_policy == "default-deny":
        for name, spec in network_policy_specs().items():
            created.append(
                k8s.networking.v1.NetworkPolicy(
                    f"{prefix}-netpol-{name}", metadata=meta(name), spec=spec, opts=opts
                )
            )
    if args.mtls:
        created.append(
            k8s.apiextensions.CustomResource(
                f"{prefix}-peer-authentication",
                api_version="security.istio.io/v1",
                kind="PeerAuthentication",
                metadata=meta(PEER_AUTHENTICATION_NAME),
                spec={"mtls": {"mode": "STRICT"}},
                opts=opts,
            )
        )
    return created

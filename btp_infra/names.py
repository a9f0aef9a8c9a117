"""Names shared by the config model, the program and the policy pack: one definition of each.

Dependency-free (stdlib only), so that :mod:`btp_infra.policy` (which imports only ``pulumi-policy`` and pure
modules) and :mod:`btp_infra.config` read the same values.
"""

from __future__ import annotations

from typing import Final

#: Namespaces owned by Kubernetes, Kyma, Compass or Istio. Any ``kube-*`` name is reserved as well.
SYSTEM_NAMESPACES: Final[frozenset[str]] = frozenset(
    {
        "default",
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "kyma-system",
        "kyma-integration",
        "istio-system",
        "compass-system",
    }
)
#: The prefix Kubernetes reserves for its own namespaces.
RESERVED_PREFIX: Final = "kube-"
#: The SAP BTP service operator's management namespace on Kyma (btp-api.md §A.1).
DEFAULT_MANAGEMENT_NAMESPACE: Final = "kyma-system"

# Labels btp-infra puts on every tenant namespace.
LABEL_ISTIO_INJECTION: Final = "istio-injection"
LABEL_TENANT: Final = "btp-infra.io/tenant"
LABEL_SUBACCOUNT: Final = "btp-infra.io/subaccount"
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE: Final = "btp-infra"

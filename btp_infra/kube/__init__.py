"""Kubernetes access for the day-2 operations (verify, rotate, adopt, offboard) over the official client.

One facade, :class:`~btp_infra.kube.client.KubeClient`: a client from a kubeconfig (path or content) and a
context, typed reads and writes of namespaces, Secrets, pods and the SAP BTP service operator's
``ServiceInstance``/``ServiceBinding`` objects, ``None`` for what does not exist and one-line errors without
secrets. The layer of the BTP clients: it imports :mod:`btp_infra.conventions` only, and the program, the
components and the providers never import it (they reach the cluster through pulumi-kubernetes).
"""

from btp_infra.kube.client import (
    MERGE_PATCH,
    KubeClient,
    KubeConfigError,
    KubeError,
    Namespace,
    OperatorKind,
    OperatorObject,
    Pod,
    Secret,
    is_kubeconfig_path,
)

__all__ = [
    "MERGE_PATCH",
    "KubeClient",
    "KubeConfigError",
    "KubeError",
    "Namespace",
    "OperatorKind",
    "OperatorObject",
    "Pod",
    "Secret",
    "is_kubeconfig_path",
]

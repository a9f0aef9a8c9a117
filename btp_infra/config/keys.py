"""The keys of the ``btp-infra:`` config namespace, and the other namespaces' keys btp-infra reacts to.

Owns: :data:`CONFIG_KEYS` (checked against :class:`~btp_infra.config.models.TenantConfig` when that is
defined), :data:`SECRET_KEYS` and :data:`IGNORED_KUBERNETES_KEYS`. Listed here, below the model, because the
redaction of messages needs them before any model exists.
"""

from __future__ import annotations

from typing import Final

CONFIG_KEYS: Final[tuple[str, ...]] = (
    "namespace",
    "subaccountId",
    "subaccount",
    "subdomainPrefix",
    "allowSubaccountReplacement",
    "region",
    "credentialType",
    "secretPlacement",
    "managementNamespace",
    "entitlements",
    "labels",
    "quota",
    "limitRange",
    "networkPolicy",
    "mtls",
    "protect",
    "takeOwnership",
    "kubeconfig",
    "kubeContext",
    "clusterIdentifier",
    "renderYamlToDirectory",
    "cisServiceKey",
    "keyringProfile",
    "timeouts",
    "x509",
    "adopt",
    "credentialRotation",
)
"""Every key of the ``btp-infra:`` namespace, camelCase, in declaration order (of the model's fields)."""

SECRET_KEYS: Final = frozenset({"cisServiceKey", "kubeconfig"})
"""Keys whose values are secrets: never rendered; the only keys that may be ``secure:`` in a stack file."""

IGNORED_KUBERNETES_KEYS: Final = {
    "kubernetes:context": "kubeContext",
    "kubernetes:kubeconfig": "kubeconfig",
    "kubernetes:cluster": "kubeContext",
}
"""``kubernetes:*`` keys that choose the cluster, and the ``btp-infra:`` key to use instead. They configure
only pulumi-kubernetes' *default* provider; btp-infra's explicit provider reads its own inputs, so they would
be silently ignored (``provider.go``, ``Configure``). A stack that sets one is refused."""

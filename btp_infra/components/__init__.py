"""Pulumi components, one per module: :class:`TenantNamespace` (``tenant_namespace``), built from its typed
:class:`TenantNamespaceArgs` (``args``); ``guardrails`` holds the plain builders of the guardrails."""

from btp_infra.components.args import TenantNamespaceArgs
from btp_infra.components.tenant_namespace import TenantNamespace

__all__ = ["TenantNamespace", "TenantNamespaceArgs"]

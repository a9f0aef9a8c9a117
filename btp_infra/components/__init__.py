"""Pulumi components: one per module."""

from btp_infra.components.tenant_namespace import TenantNamespace

__all__ = ["TenantNamespace"]

"""The typed arguments of the tenant component: what it builds, nothing else.

No credentials and no cluster connection: the cis key and the kubeconfig stay with the program, which maps
the validated stack config to these (:func:`btp_infra.program.tenant_args`). Plain frozen dataclasses, so a
test or another program can build a tenant without a stack file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from btp_infra.conventions import DEFAULT_TIMEOUTS, OPERATOR_OFFERING, OPERATOR_PLAN

__all__ = [
    "AdoptArgs",
    "EntitlementArgs",
    "GuardrailArgs",
    "OperatorSecretArgs",
    "SubaccountArgs",
    "TenantNamespaceArgs",
    "TimeoutArgs",
]


@dataclass(frozen=True)
class EntitlementArgs:
    """One plan entitled to the tenant's subaccount (``amount`` only for plans with a numeric quota)."""

    service: str
    plan: str
    amount: int | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.service, self.plan)


@dataclass(frozen=True)
class TimeoutArgs:
    """Seconds each BTP operation may take (also the resources' ``customTimeouts``)."""

    entitlement: int = DEFAULT_TIMEOUTS["entitlement"]
    admin_access: int = DEFAULT_TIMEOUTS["adminAccess"]
    instance: int = DEFAULT_TIMEOUTS["instance"]
    binding: int = DEFAULT_TIMEOUTS["binding"]


@dataclass(frozen=True)
class OperatorSecretArgs:
    """Where the SAP BTP service operator finds the tenant's credentials, and of which type."""

    name: str
    namespace: str
    placement: Literal["namespace", "management"]
    credential_type: Literal["client-secret", "x509"]
    labels: Mapping[str, str]


@dataclass(frozen=True)
class GuardrailArgs:
    """The Kubernetes guardrails in the tenant namespace; ``None``/``False`` = not created."""

    labels: Mapping[str, str]
    quota: Mapping[str, str] | None = None
    container_limits: Mapping[str, Any] | None = None
    network_policy: Literal["default-deny"] | None = None
    mtls: bool = False


@dataclass(frozen=True)
class AdoptArgs:
    """Hand-made objects taken over instead of created (stack config ``btp-infra:adopt``).

    ``instance``/``binding``: the providers' ``adopt`` input — ``None`` (create), ``True`` (find by the
    declared name) or the Service Manager id. ``namespace``/``secret``: import the existing Kubernetes object.
    """

    instance: str | bool | None = None
    binding: str | bool | None = None
    namespace: bool = False
    secret: bool = False


@dataclass(frozen=True)
class SubaccountArgs:
    """The subaccount the tenant stack creates and owns (instead of mapping an existing ``subaccount_id``)."""

    display_name: str
    subdomain: str
    region: str
    parent_directory: str | None = None
    labels: Mapping[str, list[str]] = field(default_factory=dict)
    used_for_production: bool = False
    #: Let a changed subdomain or region replace the subaccount (the policy pack refuses it otherwise).
    allow_replacement: bool = False


@dataclass(frozen=True)
class TenantNamespaceArgs:
    """One Kyma namespace mapped 1:1 to one BTP subaccount: an existing one (``subaccount_id``) or one the
    stack creates (``subaccount``), exactly one of the two."""

    namespace: str
    subaccount_id: str | None
    region: str | None
    namespace_labels: Mapping[str, str]
    instance_name: str
    binding_name: str
    sm_labels: Mapping[str, list[str]]
    operator_secret: OperatorSecretArgs
    guardrails: GuardrailArgs
    #: ``service-manager/service-operator-access`` first, then the tenant's own plans.
    entitlements: tuple[EntitlementArgs, ...] = (EntitlementArgs(OPERATOR_OFFERING, OPERATOR_PLAN),)
    binding_parameters: Mapping[str, Any] = field(default_factory=dict)
    timeouts: TimeoutArgs = TimeoutArgs()
    take_ownership: bool = False
    protect: bool = False
    adopt: AdoptArgs = AdoptArgs()
    subaccount: SubaccountArgs | None = None

    def __post_init__(self) -> None:
        if (self.subaccount_id is None) == (self.subaccount is None):
            raise ValueError("exactly one of subaccount_id and subaccount")
        if not self.entitlements or self.entitlements[0].key != (OPERATOR_OFFERING, OPERATOR_PLAN):
            raise ValueError(f"the first entitlement must be {OPERATOR_OFFERING}/{OPERATOR_PLAN}")

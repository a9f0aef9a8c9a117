"""The global account's entitlements (service plans with quota) that the emulator offers.

Whether a plan takes ``amount`` or ``enable`` follows terraform-provider-btp's ``hasPlanQuota``
(btp-api.md §C.2): ``ELASTIC_SERVICE``, ``ELASTIC_LIMITED`` and ``APPLICATION`` are enable-only; every
other category has a numeric quota. The category of ``service-manager/service-operator-access`` is
UNCONFIRMED (§E.1); the default models SAP's samples (enable). Override ``SandboxConfig.catalog`` to test
the other reading.
"""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PlanCategory = Literal[
    "PLATFORM",
    "SERVICE",
    "ELASTIC_SERVICE",
    "ELASTIC_LIMITED",
    "APPLICATION",
    "QUOTA_BASED_APPLICATION",
    "ENVIRONMENT",
]

ENABLE_CATEGORIES: frozenset[str] = frozenset({"ELASTIC_SERVICE", "ELASTIC_LIMITED", "APPLICATION"})


def stable_id(*parts: str) -> str:
    """A UUID derived from names, stable across runs (offering and plan ids)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "https://btp-infra.sandbox/catalog/" + "/".join(parts)))


class PlanSpec(BaseModel):
    """One entitled service plan of the global account."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str
    plan: str
    category: PlanCategory
    amount: int | None = Field(default=None, ge=0, description="global quota; None = unlimited")
    auto_assigned: bool = False
    bindable: bool = True
    description: str = ""

    @property
    def numeric_quota(self) -> bool:
        """True when assignments use ``amount`` (False: ``enable``)."""
        return self.category not in ENABLE_CATEGORIES

    @property
    def unlimited(self) -> bool:
        return self.amount is None

    @property
    def offering_id(self) -> str:
        return stable_id(self.service)

    @property
    def plan_id(self) -> str:
        return stable_id(self.service, self.plan)

    @property
    def unique_identifier(self) -> str:
        return f"{self.service}-{self.plan}"


def default_catalog() -> list[PlanSpec]:
    """The default catalog from docs/architecture.md."""
    return [
        PlanSpec(
            service="service-manager",
            plan="service-operator-access",
            category="ELASTIC_SERVICE",
            description="Credentials for the SAP BTP service operator (platform-scoped).",
        ),
        PlanSpec(
            service="service-manager",
            plan="subaccount-admin",
            category="ELASTIC_SERVICE",
            auto_assigned=True,
            description="Manage instances and bindings of the whole subaccount.",
        ),
        PlanSpec(service="xsuaa", plan="application", category="APPLICATION"),
        PlanSpec(service="destination", plan="lite", category="ELASTIC_SERVICE"),
        PlanSpec(service="hana-cloud", plan="hana", category="SERVICE", amount=4, bindable=False),
    ]

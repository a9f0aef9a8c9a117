"""Configuration of the BTP emulator: seeded subaccounts, entitled regions, directories, catalog, latencies,
rate limits, faults."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from btp_infra.sandbox.catalog import PlanSpec, default_catalog
from btp_infra.sandbox.faults import FaultSpec

SubaccountState = Literal[
    "OK",
    "STARTED",
    "CREATING",
    "UPDATING",
    "PROCESSING",
    "MOVING",
    "MIGRATING",
    "DELETING",
    "CREATION_FAILED",
    "UPDATE_FAILED",
    "PROCESSING_FAILED",
    "DELETION_FAILED",
    "MOVE_FAILED",
    "MIGRATION_FAILED",
    "PENDING_REVIEW",
    "CANCELED",
    "SUSPENDED",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubaccountSeed(_Model):
    """A subaccount that exists when the emulator starts (or after ``reset``)."""

    guid: str = Field(min_length=1)
    subdomain: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    display_name: str | None = None
    region: str = "eu10"
    state: SubaccountState = "OK"
    state_message: str | None = None
    description: str = ""
    labels: dict[str, list[str]] = Field(default_factory=dict)
    beta_enabled: bool = False
    used_for_production: Literal["UNSET", "USED_FOR_PRODUCTION", "NOT_USED_FOR_PRODUCTION"] = "UNSET"
    parent_guid: str | None = None
    """A directory GUID (``SandboxConfig.directories``); None: directly in the global account."""


class Latencies(_Model):
    """How long (seconds) each asynchronous BTP operation takes."""

    entitlement: float = Field(default=0.1, ge=0)
    entitlement_delete: float = Field(default=0.05, ge=0)
    admin_binding: float = Field(default=0.05, ge=0)
    instance: float = Field(default=0.1, ge=0)
    instance_delete: float = Field(default=0.05, ge=0)
    binding: float = Field(default=0.05, ge=0)
    binding_delete: float = Field(default=0.05, ge=0)
    #: Seconds after its creation before a new Service Manager binding's credentials obtain a token (XSUAA
    #: refuses them with 401 until then): 0 = at once. For tests of credentials that work late, or never.
    binding_credentials: float = Field(default=0.0, ge=0)
    subaccount_create: float = Field(default=0.15, ge=0)
    subaccount_update: float = Field(default=0.0, ge=0)
    """0: a PATCH answers with the change applied and state OK, as in the terraform-provider-btp VCR fixture;
    more: ``UPDATING`` for that long first."""
    subaccount_delete: float = Field(default=0.1, ge=0)


class RateLimit(_Model):
    """At most ``limit`` calls of ``method route`` per client within a sliding ``window`` (seconds).

    ``per="all"`` counts the calls of every client together (as if one caller made them all: the worst case
    for a fleet, since SAP limits per caller and each subaccount's SM credentials are another caller).
    """

    method: str
    route: str
    limit: int = Field(ge=1)
    window: float = Field(default=60.0, gt=0)
    per: Literal["client", "all"] = "client"


def _uuid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://btp-infra.sandbox/{name}"))


def default_subaccounts() -> list[SubaccountSeed]:
    """Two subaccounts in state OK with stable GUIDs (``sandbox-sub-1``, ``sandbox-sub-2``)."""
    return [
        SubaccountSeed(
            guid=_uuid(f"subaccount/{i}"), subdomain=f"sandbox-sub-{i}", display_name=f"Sandbox {i}"
        )
        for i in (1, 2)
    ]


def default_regions() -> list[str]:
    """Regions a sandbox global account is entitled to (a subaccount may be created in these)."""
    return ["eu10", "eu11", "eu20", "eu30", "us10", "us20", "ap10", "ap21", "jp10"]


def default_rate_limits() -> list[RateLimit]:
    """SAP's documented Service Manager limit for instance creation (50 per minute per client)."""
    return [RateLimit(method="POST", route="/sm/v1/service_instances", limit=50)]


class SandboxConfig(_Model):
    """Everything that shapes one emulator instance. All fields have test-friendly defaults."""

    subaccounts: list[SubaccountSeed] = Field(default_factory=default_subaccounts)
    regions: list[str] = Field(default_factory=default_regions)
    """Regions new subaccounts may be created in; the seeds' regions count as entitled too."""
    directories: list[str] = Field(default_factory=list)
    """GUIDs of directories a subaccount may be created in (``parentGUID``), besides the global account."""
    catalog: list[PlanSpec] = Field(default_factory=default_catalog)
    latencies: Latencies = Field(default_factory=Latencies)
    rate_limits: list[RateLimit] = Field(default_factory=default_rate_limits)
    retry_after_format: Literal["http-date", "seconds"] = "http-date"
    token_ttl: float = Field(default=3600.0, gt=0)
    tls: bool = False
    port: int = Field(default=0, ge=0, le=65535)
    tls_port: int = Field(default=0, ge=0, le=65535)
    global_account_guid: str = Field(default_factory=lambda: _uuid("global-account"))
    global_account_subdomain: str = "sandbox-ga"
    cis_client_id: str | None = None
    cis_client_secret: str | None = Field(default=None, repr=False)
    entitlement_jobs: bool = True
    force_delete: bool = True
    """Whether the global account allows ``DELETE .../subaccounts/{guid}?forceDelete=true`` (a global-account
    setting, user-pain-points.md B4); when off, a forced delete is refused with 400."""
    pending_deletion: bool = False
    """Whether a finished subaccount delete leaves it restorable for a while (``contractStatus``
    ``PENDING_FORCED_DELETION``, emptied, its subdomain still taken: user-pain-points.md B4) instead of
    gone."""
    faults: list[FaultSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> SandboxConfig:
        guids = [s.guid for s in self.subaccounts]
        subdomains = [s.subdomain for s in self.subaccounts] + [self.global_account_subdomain]
        if len(set(guids)) != len(guids):
            raise ValueError("subaccount GUIDs must be unique")
        if len(set(subdomains)) != len(subdomains):
            raise ValueError("subdomains (including the global account's) must be unique")
        unknown = {s.parent_guid for s in self.subaccounts} - {None, *self.directories}
        if unknown:
            raise ValueError(f"seeded parent_guid not among the directories: {sorted(map(str, unknown))}")
        plans = [(p.service, p.plan) for p in self.catalog]
        if len(set(plans)) != len(plans):
            raise ValueError("catalog service/plan pairs must be unique")
        return self

    def entitled_regions(self) -> frozenset[str]:
        """Where a subaccount may be created: ``regions`` plus every seeded subaccount's region."""
        return frozenset(self.regions) | {s.region for s in self.subaccounts}

"""Request bodies of the emulated APIs (validation failures answer 400 in the service's error shape)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from btp_infra.sandbox.config import SubaccountState


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- Entitlements (btp-api.md §C.2) --------------------------------------------------------------------------


class AssignmentInfo(_Body):
    subaccountGUID: str = Field(min_length=1)
    amount: int | None = None
    enable: bool | None = None
    resources: list[dict[str, Any]] = Field(default_factory=list)


class SubaccountServicePlan(_Body):
    serviceName: str = Field(min_length=1)
    servicePlanName: str = Field(min_length=1)
    servicePlanUniqueIdentifier: str | None = None
    assignmentInfo: list[AssignmentInfo] = Field(min_length=1)


class SubaccountServicePlans(_Body):
    subaccountServicePlans: list[SubaccountServicePlan] = Field(min_length=1)


# -- Accounts: subaccount lifecycle (btp-api.md §C.3a; XP accounts OpenAPI CreateSubaccountRequestPayload,
# UpdateSubaccountRequestPayload) ----------------------------------------------------------------------------

UsedForProduction = Literal["USED_FOR_PRODUCTION", "NOT_USED_FOR_PRODUCTION"]


class SubaccountCreate(_Body):
    """``POST /accounts/v1/subaccounts``. The OpenAPI requires only displayName and region; the emulator also
    requires ``subdomain``: it plays multi-environment subaccounts, whose subdomain names their UAA zone."""

    displayName: str
    region: str
    subdomain: str
    parentGUID: str | None = None
    description: str | None = None
    labels: dict[str, list[str]] | None = None
    betaEnabled: bool = False
    usedForProduction: UsedForProduction | None = None
    subaccountAdmins: list[str] = Field(default_factory=list)
    customProperties: list[dict[str, Any]] | None = None
    origin: Literal["API"] | None = None


class SubaccountUpdate(_Body):
    """``PATCH /accounts/v1/subaccounts/{guid}`` (the OpenAPI requires displayName). ``subdomain`` and
    ``region`` are not part of the payload; they are read only to refuse a change (TF: RequiresReplace)."""

    displayName: str
    description: str | None = None
    labels: dict[str, list[str]] | None = None
    betaEnabled: bool | None = None
    usedForProduction: UsedForProduction | None = None
    subdomain: str | None = None
    region: str | None = None


# -- Service Manager (btp-api.md §B.3, §B.8) -----------------------------------------------------------------


class LabelOp(_StrictBody):
    op: Literal["add", "add_values", "remove", "remove_values"]
    key: str
    values: list[str] = Field(default_factory=list)


class InstanceCreate(_Body):
    name: str = Field(min_length=1)
    service_plan_id: str | None = None
    service_offering_name: str | None = None
    service_plan_name: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, list[str]] = Field(default_factory=dict)
    shared: bool | None = None


class InstanceUpdate(_Body):
    name: str | None = Field(default=None, min_length=1)
    service_plan_id: str | None = None
    parameters: dict[str, Any] | None = None
    labels: list[LabelOp] = Field(default_factory=list)


class BindingCreate(_Body):
    name: str = Field(min_length=1)
    service_instance_id: str = Field(min_length=1)
    parameters: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, list[str]] = Field(default_factory=dict)
    bind_resource: dict[str, Any] | None = None


class BindingUpdate(_StrictBody):
    """Bindings accept only name and label changes (PSPEC)."""

    name: str | None = Field(default=None, min_length=1)
    labels: list[LabelOp] = Field(default_factory=list)


# -- control -------------------------------------------------------------------------------------------------


class RevokeRequest(_StrictBody):
    client_id: str | None = None


class ClockAdvance(_StrictBody):
    seconds: float = Field(ge=0)


class SubaccountPatch(_StrictBody):
    """An out-of-band change (as if made in the cockpit); setting ``state`` also ends any running job."""

    state: SubaccountState | None = None
    state_message: str | None = None
    display_name: str | None = Field(default=None, min_length=1)
    description: str | None = None
    labels: dict[str, list[str]] | None = None
    used_for_production: Literal["UNSET", "USED_FOR_PRODUCTION", "NOT_USED_FOR_PRODUCTION"] | None = None

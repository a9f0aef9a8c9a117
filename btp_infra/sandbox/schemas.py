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
    state: SubaccountState | None = None
    state_message: str | None = None

"""``ServiceInstance``: a Service Manager instance in the tenant's subaccount (``service-operator-access``).

Owns the resource's declaration (inputs, outputs, replace keys), its provider, and the SM helpers the other
providers share: removing an instance with btp-infra's blocking bindings, and the client for a ``read``
that keeps state when admin access is missing. Created by offering + plan name once the plan is visible (it
can lag the entitlement, pain point C2: ``ServiceManagerClient.find_plan(wait=...)``); idempotent by its
deterministic name, so a crashed run is adopted on re-run instead of duplicated. The SM label helpers live in
:mod:`btp_infra.btp.sm_models` and are re-exported here for existing imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NotRequired, TypedDict

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from btp_infra.btp import sm_models
from btp_infra.btp.errors import ConflictError, NoAdminAccessError, SubaccountGoneError
from btp_infra.btp.http import Deadline
from btp_infra.btp.service_manager import PLAN_VISIBILITY_WAIT, ServiceManagerClient
from btp_infra.btp.sm_models import (
    MANAGED_QUERY,
    is_tenants,
    label_changes,
    managed_labels,
    quote,
    tenant_query,
)
from btp_infra.conventions import DEFAULT_TIMEOUTS, OPERATOR_OFFERING, OPERATOR_PLAN
from btp_infra.providers.adoption import (
    adopted_outputs,
    carry_ownership,
    check_name,
    check_unclaimed,
    give_back,
    is_kept,
    label_in_place,
    refuse,
)
from btp_infra.providers.base import BtpProvider, is_unknown, log
from btp_infra.providers.spec import (
    ResourceSpec,
    adopt_lookup,
    optional_bool,
    optional_mapping,
    optional_timeout,
    required_str,
    sm_labels,
)

__all__ = [
    "MANAGED_QUERY",
    "SPEC",
    "ServiceInstance",
    "ServiceInstanceInputs",
    "ServiceInstanceOutputs",
    "ServiceInstanceProvider",
    "is_tenants",
    "label_changes",
    "managed_labels",
    "read_or_keep",
    "remove_instance",
    "tenant_query",
]


class ServiceInstanceInputs(TypedDict):
    """The inputs, by their names in state."""

    subaccountId: pulumi.Input[str]
    name: str
    serviceOfferingName: str
    servicePlanName: str
    parameters: dict[str, Any]
    labels: dict[str, list[str]]
    timeoutSeconds: float | None
    # Adoption (btp-infra:adopt): None, True (by name) or the SM id; and whether delete removes it anyway.
    # Both None unless adopting, so that stacks made before them see no change.
    adopt: str | bool | None
    takeOwnership: bool | None


class ServiceInstanceOutputs(TypedDict):
    """The computed outputs (``None`` until created)."""

    instanceId: str | None
    servicePlanId: str | None
    ready: bool | None
    # Set by an adopting create only (and carried over): it existed before the stack; its labels then.
    adopted: NotRequired[bool | None]
    previousLabels: NotRequired[dict[str, list[str]] | None]


SPEC = ResourceSpec.of(
    ServiceInstanceInputs,
    ServiceInstanceOutputs,
    replace_on=("subaccountId", "serviceOfferingName", "servicePlanName"),
    checks={
        "subaccountId": required_str,
        "name": required_str,
        "serviceOfferingName": required_str,
        "servicePlanName": required_str,
        "parameters": optional_mapping,
        "labels": sm_labels,
        "timeoutSeconds": optional_timeout,
        "adopt": adopt_lookup,
        "takeOwnership": optional_bool,
    },
)


def remove_instance(sm: ServiceManagerClient, instance_id: str, timeout: float) -> None:
    """Delete an instance; when bindings still block it (a binding create that failed after SM accepted
    it is owned by no resource: Pulumi records no partial creates), remove btp-infra's own and delete once
    more. Anyone else's binding still blocks, with SM's message."""
    try:
        sm.delete_instance(instance_id, timeout=timeout)
    except ConflictError:
        query = f"service_instance_id eq {quote(instance_id)}"
        for binding in sm.list_bindings(field_query=query, label_query=MANAGED_QUERY):
            sm.delete_binding(binding.id, timeout=timeout)
        sm.delete_instance(instance_id, timeout=timeout)


def read_or_keep(
    provider: BtpProvider, subaccount_id: str, what: str
) -> ServiceManagerClient | Literal[False] | None:
    """For ``read``: the subaccount's SM client; ``None`` when the subaccount is gone (so is ``what``);
    ``False`` when its admin access is missing and ``what`` cannot be checked (its state is kept as is:
    the next ``up`` restores the admin access and adopts ``what`` by name if it is still there)."""
    try:
        return provider.service_manager(subaccount_id)
    except SubaccountGoneError:
        return None
    except NoAdminAccessError:
        log.warning("btp-infra: %s: not checked, subaccount %s has no admin access", what, subaccount_id)
        return False


class ServiceInstanceProvider(BtpProvider):
    """Creates, adopts, updates (labels, parameters, name) and deletes an SM service instance."""

    spec = SPEC
    default_timeout = float(DEFAULT_TIMEOUTS["instance"])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # Same name in the same subaccount → the old instance must go first: create adopts by name and would
        # find it (with the old plan: ConflictError).
        # (An unknown value may be the same one.)
        same_place = all(
            is_unknown(news.get(k)) or olds.get(k) == news.get(k) for k in ("name", "subaccountId")
        )
        return SPEC.diff(olds, news, delete_before_replace=same_place)

    def create(self, props: dict[str, Any]) -> CreateResult:
        if props.get("adopt"):
            return self._adopt(props)
        sm = self.service_manager(props["subaccountId"])
        timeout = self.timeout_of(props)
        deadline = Deadline(timeout)
        plan = sm.find_plan(
            props["serviceOfferingName"],
            props["servicePlanName"],
            wait=min(PLAN_VISIBILITY_WAIT, deadline.remaining()),
        )
        instance = sm.create_instance(
            props["name"],
            plan_id=plan.id,
            parameters=props.get("parameters") or None,
            labels=props.get("labels") or None,
            timeout=deadline.remaining(),
        )
        return CreateResult(instance.id, {**SPEC.inputs_of(props), **_outputs(instance)})

    def _adopt(self, props: dict[str, Any]) -> CreateResult:
        """Take over the hand-made instance named in ``btp-infra:adopt``: check it is this subaccount's
        ``service-manager/service-operator-access`` instance with the declared name, add btp-infra's labels
        in place (a PATCH, never a create), record it as adopted."""
        guid, name, adopt = props["subaccountId"], props["name"], props["adopt"]
        sm = self.service_manager(guid)
        timeout = self.timeout_of(props)
        where = f"subaccount {guid}"
        found = sm.get_instance(adopt) if isinstance(adopt, str) else sm.find_instance(name)
        if found is None:
            raise refuse(
                "instance",
                adopt,
                name,
                f"is no service instance in {where} (deleted, or in another subaccount)",
                f"the id or name of the tenant's {OPERATOR_OFFERING}/{OPERATOR_PLAN} instance in {where}",
            )
        plan = sm.find_plan(OPERATOR_OFFERING, OPERATOR_PLAN)
        if found.service_plan_id != plan.id:
            raise refuse(
                "instance",
                adopt,
                name,
                f"is an instance of another plan, not {OPERATOR_OFFERING}/{OPERATOR_PLAN}",
                f"the tenant's {OPERATOR_OFFERING}/{OPERATOR_PLAN} instance",
            )
        if found.subaccount_id and found.subaccount_id != guid:
            raise refuse(
                "instance",
                adopt,
                name,
                f"lives in subaccount {found.subaccount_id}",
                f"an instance in {where}",
            )
        check_name("instance", adopt, name, found)
        check_unclaimed("instance", adopt, name, found, props.get("labels"))
        ops = label_in_place(found, props.get("labels"))
        instance = sm.update_instance(found.id, label_ops=ops, timeout=timeout) if ops else found
        outs = {**SPEC.inputs_of(props), **_outputs(instance), **adopted_outputs(found, props["labels"])}
        return CreateResult(instance.id, outs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if SPEC.behaviour_only(olds, news):  # e.g. a new timeout: recorded, nothing to call
            return UpdateResult({**olds, **SPEC.inputs_of(news)})
        sm = self.service_manager(news["subaccountId"])
        instance = sm.update_instance(
            id_,
            name=news["name"] if news["name"] != olds.get("name") else None,
            parameters=news.get("parameters") if news.get("parameters") != olds.get("parameters") else None,
            label_ops=label_changes(olds.get("labels"), news.get("labels")) or None,
            timeout=self.timeout_of(news),
        )
        return UpdateResult({**SPEC.inputs_of(news), **_outputs(instance), **carry_ownership(olds)})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        sm = read_or_keep(self, props["subaccountId"], f"instance {props.get('name')}")
        if sm is False:
            return ReadResult(id_, props)
        instance = sm.get_instance(id_) if sm is not None else None
        if instance is None:
            return ReadResult("", {})
        outs = {**props, **_outputs(instance), "name": instance.name}
        outs["labels"] = managed_labels(instance.labels, props.get("labels"))
        return ReadResult(id_, outs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        timeout = self.timeout_of(props)
        with self.cleanup_service_manager(props["subaccountId"], f"instance {props.get('name')}") as sm:
            if sm is None:
                return
            if is_kept(props):
                give_back(sm, "instance", id_, props, timeout=timeout)
                return
            remove_instance(sm, id_, timeout)


def _outputs(instance: sm_models.ServiceInstance) -> ServiceInstanceOutputs:
    return {"instanceId": instance.id, "servicePlanId": instance.service_plan_id, "ready": instance.ready}


class ServiceInstance(Resource, module="btp", name="ServiceInstance"):
    """A Service Manager service instance, created by offering and plan name."""

    subaccountId: pulumi.Output[str]
    instanceId: pulumi.Output[str]
    adopted: pulumi.Output[bool]

    def __init__(
        self,
        name: str,
        *,
        subaccount_id: pulumi.Input[str],
        instance_name: str,
        service_offering_name: str,
        service_plan_name: str,
        parameters: Mapping[str, Any] | None = None,
        labels: Mapping[str, list[str]] | None = None,
        timeout_seconds: float | None = None,
        adopt: str | bool | None = None,
        take_ownership: bool | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        inputs: ServiceInstanceInputs = {
            "subaccountId": subaccount_id,
            "name": instance_name,
            "serviceOfferingName": service_offering_name,
            "servicePlanName": service_plan_name,
            "parameters": dict(parameters or {}),
            "labels": {k: list(v) for k, v in (labels or {}).items()},
            "timeoutSeconds": timeout_seconds,
            "adopt": adopt or None,
            "takeOwnership": take_ownership if adopt else None,
        }
        super().__init__(ServiceInstanceProvider(), name, SPEC.props(inputs), opts)

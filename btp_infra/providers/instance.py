"""``ServiceInstance``: a Service Manager instance in the tenant's subaccount (``service-operator-access``).

Created by offering + plan name after the plan becomes visible (it can lag the entitlement, pain point C2);
idempotent by its deterministic name, so a crashed run is adopted on re-run instead of duplicated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    UpdateResult,
)

from btp_infra.btp.errors import ConflictError, NoAdminAccessError, NotFoundError, SubaccountGoneError
from btp_infra.btp.http import Deadline, PollPolicy, poll
from btp_infra.btp.service_manager import ServiceManagerClient
from btp_infra.btp.sm_models import quote
from btp_infra.config import PROJECT, SM_MANAGED_BY_LABEL, SM_TENANT_LABEL
from btp_infra.providers.base import (
    BtpProvider,
    behaviour_only,
    check_result,
    diff_inputs,
    inputs_of,
    is_unknown,
    log,
    require_labels,
    require_mapping,
    require_str,
    require_timeout,
)

INPUTS = (
    "subaccountId",
    "name",
    "serviceOfferingName",
    "servicePlanName",
    "parameters",
    "labels",
    "timeoutSeconds",
)
REPLACE_ON = ("subaccountId", "serviceOfferingName", "servicePlanName")
#: Every SM instance and binding btp-infra creates carries this label (``TenantConfig.sm_labels``).
MANAGED_QUERY = f"{SM_MANAGED_BY_LABEL} eq {quote(PROJECT)}"
PLAN_VISIBILITY_WAIT = 120.0


def tenant_query(tenant: str) -> str:
    """The SM label query for btp-infra's objects of one tenant (namespace)."""
    return f"{MANAGED_QUERY} and {SM_TENANT_LABEL} eq {quote(tenant)}"


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


def is_tenants(entity: Any, tenant: str | None) -> bool:
    """True for an SM object btp-infra labelled as ``tenant``'s."""
    labels = entity.labels
    return (
        bool(tenant)
        and labels.get(SM_MANAGED_BY_LABEL) == [PROJECT]
        and labels.get(SM_TENANT_LABEL) == [tenant]
    )


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


def label_changes(
    old: Mapping[str, list[str]] | None, new: Mapping[str, list[str]] | None
) -> list[dict[str, Any]]:
    """SM PATCH label operations turning ``old`` into ``new`` (btp-api.md §B.8)."""
    old, new = old or {}, new or {}
    ops: list[dict[str, Any]] = []
    for key in sorted(set(old) | set(new)):
        before, after = set(old.get(key, [])), set(new.get(key, []))
        if not after:
            if before:
                ops.append({"op": "remove", "key": key})
            continue
        if after - before:
            ops.append({"op": "add", "key": key, "values": sorted(after - before)})
        if before - after:
            ops.append({"op": "remove", "key": key, "values": sorted(before - after)})
    return ops


def managed_labels(
    live: Mapping[str, list[str]], declared: Mapping[str, list[str]] | None
) -> dict[str, list[str]]:
    """The live labels restricted to the keys we declare (labels others add are not drift)."""
    return {k: sorted(v) for k, v in live.items() if k in (declared or {})}


class ServiceInstanceProvider(BtpProvider):
    """Creates, adopts, updates (labels, parameters, name) and deletes an SM service instance."""

    default_timeout = 1800.0

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures: list[CheckFailure] = []
        for key in ("subaccountId", "name", "serviceOfferingName", "servicePlanName"):
            require_str(news, key, failures)
        require_mapping(news, "parameters", failures)
        require_labels(news, failures)
        require_timeout(news, failures)
        return check_result(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # Same name in the same subaccount → the old instance must go first: create adopts by name and would
        # find it (with the old plan: ConflictError).
        # (An unknown value may be the same one.)
        same_place = all(
            is_unknown(news.get(k)) or olds.get(k) == news.get(k) for k in ("name", "subaccountId")
        )
        return diff_inputs(olds, news, keys=INPUTS, replace_keys=REPLACE_ON, delete_before_replace=same_place)

    def create(self, props: dict[str, Any]) -> CreateResult:
        sm = self.service_manager(props["subaccountId"])
        timeout = self.timeout_of(props)
        deadline = Deadline(timeout)

        def lookup() -> Any:
            try:
                return sm.find_plan(props["serviceOfferingName"], props["servicePlanName"])
            except NotFoundError:
                return None

        plan = poll(
            lookup,
            done=lambda found: found is not None,
            policy=self.poll_policy or PollPolicy(),
            deadline=Deadline(min(PLAN_VISIBILITY_WAIT, deadline.remaining())),
            what=f"plan {props['serviceOfferingName']}/{props['servicePlanName']} to become visible",
        )
        instance = sm.create_instance(
            props["name"],
            plan_id=plan.id,
            parameters=props.get("parameters") or None,
            labels=props.get("labels") or None,
            timeout=deadline.remaining(),
        )
        return CreateResult(instance.id, {**inputs_of(props, INPUTS), **_outputs(instance)})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if behaviour_only(olds, news, INPUTS):  # e.g. a new timeout: recorded, nothing to call
            return UpdateResult({**olds, **inputs_of(news, INPUTS)})
        sm = self.service_manager(news["subaccountId"])
        instance = sm.update_instance(
            id_,
            name=news["name"] if news["name"] != olds.get("name") else None,
            parameters=news.get("parameters") if news.get("parameters") != olds.get("parameters") else None,
            label_ops=label_changes(olds.get("labels"), news.get("labels")) or None,
            timeout=self.timeout_of(news),
        )
        return UpdateResult({**inputs_of(news, INPUTS), **_outputs(instance)})

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
            remove_instance(sm, id_, timeout)


def _outputs(instance: Any) -> dict[str, Any]:
    return {"instanceId": instance.id, "servicePlanId": instance.service_plan_id, "ready": instance.ready}


class ServiceInstance(Resource, module="btp", name="ServiceInstance"):
    """A Service Manager service instance, created by offering and plan name."""

    subaccountId: pulumi.Output[str]
    instanceId: pulumi.Output[str]

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
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "subaccountId": subaccount_id,
            "name": instance_name,
            "serviceOfferingName": service_offering_name,
            "servicePlanName": service_plan_name,
            "parameters": dict(parameters or {}),
            "labels": {k: list(v) for k, v in (labels or {}).items()},
            "timeoutSeconds": timeout_seconds,
            "instanceId": None,
            "servicePlanId": None,
            "ready": None,
        }
        super().__init__(ServiceInstanceProvider(), name, props, opts)

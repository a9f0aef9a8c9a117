"""Entitlements API behaviour (btp-api.md §C.2): assign / un-assign with ``amount`` or ``enable``, quota,
the per-plan lock (code 30004), ``entityState`` progression ``STARTED → PROCESSING → OK``, jobs.

Choices where the reference is open (§E.2 and others): the PUT answers 202 with an empty body and, when
``SandboxConfig.entitlement_jobs``, ``Location: /jobs-management/v1/jobs/<id>`` (relative to the Entitlements
base URL); while processing, ``amount`` keeps the previous value and ``requestedAmount`` shows the new one;
enabled plans report ``amount: 1``; unlimited plans report ``amount``/``remainingAmount`` 0 with
``unlimited: true``; a subaccount not in state OK → 409; lowering an assignment below the number of instances
of that plan in the subaccount → 409 code 30016; auto-managed plans are listed only with
``includeAutoManagedPlans=true``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from btp_infra.sandbox.catalog import PlanSpec
from btp_infra.sandbox.errors import (
    CODE_ENTITLEMENT_LOCKED,
    CODE_QUOTA_EXCEEDED,
    CODE_QUOTA_IN_USE,
    btp_error,
)
from btp_infra.sandbox.runtime import Runtime
from btp_infra.sandbox.schemas import AssignmentInfo, SubaccountServicePlan, SubaccountServicePlans
from btp_infra.sandbox.state import Assignment, Job, new_id
from btp_infra.sandbox.subaccounts import unusable

_CATEGORY = {"id": "FOUNDATION_CROSS_SERVICES", "displayName": "Foundation / Cross Services"}


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class Entitlements:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.store = rt.store

    def _plan(self, path: str, entry: SubaccountServicePlan) -> PlanSpec:
        plan = self.store.catalog.get((entry.serviceName, entry.servicePlanName))
        if plan is None or entry.servicePlanUniqueIdentifier not in (None, plan.unique_identifier):
            raise btp_error(
                404,
                f"Service plan {entry.servicePlanName} of service {entry.serviceName} is not entitled "
                "to the global account",
                path,
            )
        return plan

    def _requested(self, path: str, plan: PlanSpec, info: AssignmentInfo) -> int:
        if info.amount is not None and info.enable is not None:
            raise btp_error(400, "Specify either amount or enable, not both", path)
        if plan.numeric_quota:
            if info.enable is not None or info.amount is None:
                raise btp_error(
                    400, f"Plan {plan.plan} has a numeric quota: specify amount, not enable", path
                )
            if info.amount < 0:
                raise btp_error(400, "amount must not be negative", path)
            return info.amount
        if info.amount is not None or info.enable is None:
            raise btp_error(400, f"Plan {plan.plan} has no numeric quota: specify enable, not amount", path)
        return 1 if info.enable else 0

    def _consumed(self, plan: PlanSpec, exclude: set[str] | None = None) -> int:
        return sum(
            a.requested if a.pending else a.amount
            for (sub, service, name), a in self.store.assignments.items()
            if (service, name) == (plan.service, plan.plan) and sub not in (exclude or set())
        )

    def change(self, path: str, body: SubaccountServicePlans, take_failure: Callable[[], str | None]) -> Job:
        """Validate the whole request, then start every assignment change; returns the job."""
        with self.store.settled() as now:
            changes: list[tuple[PlanSpec, str, int]] = []
            for entry in body.subaccountServicePlans:
                plan = self._plan(path, entry)
                for info in entry.assignmentInfo:
                    changes.append((plan, info.subaccountGUID, self._check(path, plan, info)))
            for plan in {p for p, _, _ in changes if p.numeric_quota and not p.unlimited}:
                mine = {sub: amount for p, sub, amount in changes if p == plan}
                total = self._consumed(plan, set(mine)) + sum(mine.values())
                if plan.amount is not None and total > plan.amount:
                    raise btp_error(
                        409,
                        f"Quota exceeded for plan {plan.plan} of service {plan.service}: requested {total} "
                        f"of {plan.amount} in the global account",
                        path,
                        CODE_QUOTA_EXCEEDED,
                    )
            failure = take_failure()
            job = Job(new_id(), now, failure, "entitlement assignment")
            for plan, sub, requested in changes:
                ready_at = self._start(plan, sub, requested, failure, job.id, now)
                job.ready_at = max(job.ready_at, ready_at)
            self.store.jobs[job.id] = job
            return job

    def _check(self, path: str, plan: PlanSpec, info: AssignmentInfo) -> int:
        sub = self.store.subaccounts.get(info.subaccountGUID)
        if sub is None:
            raise btp_error(404, f"Subaccount {info.subaccountGUID} not found", path)
        if not sub.usable:
            raise btp_error(409, unusable(sub), path)
        requested = self._requested(path, plan, info)
        if plan.auto_assigned:
            raise btp_error(400, f"Plan {plan.plan} is assigned automatically and cannot be changed", path)
        current = self.store.assignments.get((sub.guid, plan.service, plan.plan))
        if current is not None and current.pending:
            raise btp_error(
                400,
                f"[Error: {CODE_ENTITLEMENT_LOCKED}/400] Entitlement of plan {plan.plan} "
                f"for subaccount {sub.guid} "
                "is locked: a previous change is still being processed. Try again later.",
                path,
                CODE_ENTITLEMENT_LOCKED,
            )
        in_use = sum(1 for i in self.store.instances.values() if i.subaccount == sub.guid and i.plan == plan)
        if (requested == 0 or plan.numeric_quota) and requested < in_use:
            raise btp_error(
                409,
                f"Cannot reduce the assignment of plan {plan.plan} to {requested}: "
                f"{in_use} service instance(s) "
                "of this plan exist in the subaccount",
                path,
                CODE_QUOTA_IN_USE,
            )
        return requested

    def _start(
        self, plan: PlanSpec, sub: str, requested: int, failure: str | None, job: str, now: float
    ) -> float:
        key = (sub, plan.service, plan.plan)
        current = self.store.assignments.get(key)
        if current is None and requested == 0:
            return now
        latency = self.rt.latencies.entitlement if requested else self.rt.latencies.entitlement_delete
        wall = self.rt.clock.wall()
        if current is None:
            current = self.store.assignments[key] = Assignment(
                sub, plan, 0, requested, now, now + latency, wall, wall
            )
        current.requested = requested
        current.pending = True
        current.started_at, current.ready_at = now, now + latency
        current.failure = failure
        current.state_message = ""
        current.modified = wall
        current.job_id = job
        return current.ready_at

    # -- reads ----------------------------------------------------------------------------------------------

    def job_status(self, path: str, job_id: str) -> dict[str, Any]:
        with self.store.settled() as now:
            job = self.store.jobs.get(job_id)
            if job is None:
                raise btp_error(404, f"Job {job_id} not found", path)
            if now < job.ready_at:
                status, description = "IN_PROGRESS", "The job is being processed."
            elif job.failure:
                status, description = "FAILED", job.failure
            else:
                status, description = "COMPLETED", "The job completed successfully."
            return {"id": job.id, "status": status, "description": description}

    def _plan_json(self, plan: PlanSpec) -> dict[str, Any]:
        numeric = plan.numeric_quota and not plan.unlimited
        return {
            "name": plan.plan,
            "displayName": plan.plan,
            "description": plan.description,
            "uniqueIdentifier": plan.unique_identifier,
            "category": plan.category,
            "amount": plan.amount or 0,
            "remainingAmount": (plan.amount or 0) - self._consumed(plan) if numeric else 0,
            "unlimited": plan.unlimited,
            "autoAssign": plan.auto_assigned,
            "autoDistributeAmount": 0,
            "beta": False,
            "provisioningMethod": "SERVICE_BROKER",
        }

    def _info(self, plan: PlanSpec, a: Assignment | None, sub: str, now: float) -> dict[str, Any]:
        created = _millis(a.created if a else self.store.subaccounts[sub].created)
        plan_json = self._plan_json(plan)
        return {
            "entityId": sub,
            "entityType": "SUBACCOUNT",
            "amount": a.amount if a else 1,
            "requestedAmount": a.requested if a else 1,
            "entityState": a.entity_state(now) if a else "OK",
            "stateMessage": a.state_message if a else "",
            "autoAssigned": a is None,
            "autoAssignAmount": 0,
            "unlimitedAmountAssigned": False,
            "parentId": self.rt.config.global_account_guid,
            "parentType": "GLOBAL_ACCOUNT",
            "parentAmount": plan_json["amount"],
            "parentRemainingAmount": plan_json["remainingAmount"],
            "createdDate": created,
            "modifiedDate": _millis(a.modified) if a else created,
            "resources": [],
        }

    def assignments(
        self,
        path: str,
        subaccount: str | None,
        service: str | None,
        plan_name: str | None,
        include_auto: bool,
    ) -> dict[str, Any]:
        with self.store.settled() as now:
            if subaccount is not None and subaccount not in self.store.subaccounts:
                raise btp_error(404, f"Subaccount {subaccount} not found", path)
            plans = [
                p
                for p in self.store.catalog.values()
                if service in (None, p.service) and plan_name in (None, p.plan)
            ]
            subs = [subaccount] if subaccount else list(self.store.subaccounts)
            entitled: dict[str, list[dict[str, Any]]] = {}
            assigned: dict[str, list[dict[str, Any]]] = {}
            for plan in plans:
                entitled.setdefault(plan.service, []).append(self._plan_json(plan))
                infos = [
                    self._info(plan, self.store.assignments.get((sub, plan.service, plan.plan)), sub, now)
                    for sub in subs
                    if (sub, plan.service, plan.plan) in self.store.assignments
                    or (plan.auto_assigned and include_auto)
                ]
                if infos:
                    plan_json = {
                        k: v
                        for k, v in self._plan_json(plan).items()
                        if k not in ("amount", "remainingAmount")
                    }
                    assigned.setdefault(plan.service, []).append({**plan_json, "assignmentInfo": infos})
            return {
                "entitledServices": [self._service(name, ps) for name, ps in entitled.items()],
                "assignedServices": [self._service(name, ps) for name, ps in assigned.items()],
            }

    @staticmethod
    def _service(name: str, plans: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "name": name,
            "displayName": name,
            "description": "",
            "businessCategory": _CATEGORY,
            "ownerType": "VENDOR",
            "servicePlans": plans,
        }

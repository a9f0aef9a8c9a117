"""Entitlements API client (cis ``central`` key): read, assign and un-assign subaccount plans (§C.2)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from btp_infra.conventions import DEFAULT_TIMEOUTS

from ._base import CisFacade, json_object
from .errors import BtpError, ConflictError, NotFoundError, OperationFailedError
from .http import Deadline, poll
from .keys import CisServiceKey

__all__ = [
    "ENABLE_CATEGORIES",
    "EntitledPlan",
    "EntitlementRead",
    "EntitlementsClient",
    "InvalidAmountError",
    "PlanAssignment",
]

ASSIGNMENTS = "/entitlements/v1/assignments"
SUBACCOUNT_PLANS = "/entitlements/v1/subaccountServicePlans"
ENABLE_CATEGORIES = frozenset({"ELASTIC_SERVICE", "ELASTIC_LIMITED", "APPLICATION"})
"""Plan categories assigned with ``enable`` rather than ``amount`` (TF ``hasPlanQuota``)."""
IN_FLIGHT_STATES = frozenset({"STARTED", "PROCESSING"})


class InvalidAmountError(BtpError, ValueError):
    """An ``amount`` was given for a plan without numeric quota (or a bad amount for one with quota)."""


class EntitledPlan(BaseModel):
    """A plan the global account is entitled to, with its global quota."""

    model_config = ConfigDict(frozen=True)

    service: str
    plan: str
    category: str | None
    amount: float | None
    remaining_amount: float | None
    unlimited: bool
    unique_identifier: str | None

    @property
    def has_numeric_quota(self) -> bool:
        """Assign with ``amount`` (True) or ``enable`` (False)."""
        if self.category in ENABLE_CATEGORIES:
            return False
        return self.unlimited or self.amount is not None


class PlanAssignment(BaseModel):
    """One subaccount's assignment of a plan."""

    model_config = ConfigDict(frozen=True)

    subaccount: str
    service: str
    plan: str
    category: str | None
    has_numeric_quota: bool
    amount: float | None
    entity_state: str
    state_message: str | None
    unique_identifier: str | None
    auto_assigned: bool = False

    @property
    def ready(self) -> bool:
        return self.entity_state == "OK"


class EntitlementRead:
    """One read of a plan's entitlement: the subaccount's :attr:`assignment` and the global account's side
    (:meth:`entitled`). ``assign``/``unassign`` start from it when given one, so a caller that has just read
    the plan does not read it again."""

    def __init__(
        self,
        subaccount: str,
        service: str,
        plan: str,
        body: dict[str, Any],
        assignment: PlanAssignment | None,
    ) -> None:
        self.key = (subaccount, service, plan)
        self.assignment = assignment
        self._body = body

    def entitled(self) -> EntitledPlan:
        """The global account's entitlement to the plan; :class:`NotFoundError` if not entitled."""
        return _entitled_plan(self._body, self.key[1], self.key[2])


class EntitlementsClient(CisFacade):
    """Subaccount entitlements: ``read``, ``get_assignment``, ``get_plan_info``, ``assign``, ``unassign``."""

    api = "entitlements"

    @staticmethod
    def base_url(key: CisServiceKey) -> str:
        return key.entitlements_service_url

    # -- reads ------

    def _read(self, subaccount: str, service: str, plan: str, deadline: Deadline | None) -> dict[str, Any]:
        what = f"read entitlement {service}/{plan} of {subaccount}"
        params = {
            "subaccountGUID": subaccount,
            "serviceName": service,
            "planName": plan,
            "includeAutoManagedPlans": "true",
        }
        response = self.transport.request("GET", ASSIGNMENTS, params=params, deadline=deadline, what=what)
        return json_object(response, what)

    def get_plan_info(self, subaccount: str, service: str, plan: str) -> EntitledPlan:
        """The global account's entitlement to the plan; :class:`NotFoundError` if not entitled."""
        return _entitled_plan(self._read(subaccount, service, plan, None), service, plan)

    def read(
        self, subaccount: str, service: str, plan: str, *, deadline: Deadline | None = None
    ) -> EntitlementRead:
        """One read of the plan: the subaccount's assignment (server text redacted) and the global side."""
        body = self._read(subaccount, service, plan, deadline)
        found = _assignment(body, subaccount, service, plan)
        if found is not None and found.state_message:
            found = found.model_copy(update={"state_message": self.server_text(found.state_message)})
        return EntitlementRead(subaccount, service, plan, body, found)

    def get_assignment(
        self, subaccount: str, service: str, plan: str, *, deadline: Deadline | None = None
    ) -> PlanAssignment | None:
        """The subaccount's assignment of ``service``/``plan``, or ``None`` if it has none."""
        return self.read(subaccount, service, plan, deadline=deadline).assignment

    def list_assignments(self, subaccount: str) -> list[PlanAssignment]:
        """Every plan assigned to the subaccount (auto-managed ones included, marked ``auto_assigned``)."""
        what = f"list entitlements of {subaccount}"
        params = {"subaccountGUID": subaccount, "includeAutoManagedPlans": "true"}
        body = json_object(self.transport.request("GET", ASSIGNMENTS, params=params, what=what), what)
        found: list[PlanAssignment] = []
        services = body.get("assignedServices")
        for service in services if isinstance(services, list) else []:
            plans = service.get("servicePlans") if isinstance(service, dict) else None
            for plan in plans if isinstance(plans, list) else []:
                if not isinstance(plan, dict):
                    continue
                assignment = _assignment(body, subaccount, str(service.get("name")), str(plan.get("name")))
                if assignment is not None:
                    found.append(assignment)
        return found

    def _start(
        self, subaccount: str, service: str, plan: str, known: EntitlementRead | None, deadline: Deadline
    ) -> EntitlementRead:
        if known is not None:
            if known.key != (subaccount, service, plan):
                raise ValueError(f"a read of {known.key} given for {(subaccount, service, plan)}")
            return known
        return self.read(subaccount, service, plan, deadline=deadline)

    # -- writes ------

    def assign(
        self,
        subaccount: str,
        service: str,
        plan: str,
        amount: int | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUTS["entitlement"],
        known: EntitlementRead | None = None,
    ) -> PlanAssignment:
        """Assign the plan (``amount`` for plans with numeric quota, default 1; ``enable`` otherwise).

        Waits until ``entityState == OK``; a no-op when the assignment is already as requested. ``known``: a
        read of this plan just made (:meth:`read`), used instead of reading it again.
        """
        deadline = Deadline(timeout)
        start = self._start(subaccount, service, plan, known, deadline)
        entitled = start.entitled()
        if entitled.has_numeric_quota:
            wanted = 1 if amount is None else amount
            if isinstance(wanted, bool) or not isinstance(wanted, int) or wanted < 1:
                raise InvalidAmountError(f"{service}/{plan}: amount must be a positive integer")
            info: dict[str, Any] = {"subaccountGUID": subaccount, "amount": wanted}
        else:
            if amount is not None:
                raise InvalidAmountError(
                    f"{service}/{plan} has no numeric quota (category {entitled.category}): "
                    "omit amount, the plan is enabled"
                )
            wanted = None
            info = {"subaccountGUID": subaccount, "enable": True}
        current = start.assignment
        matches = current is not None and (wanted is None or current.amount == wanted)
        if current is not None and matches and current.ready:
            return current
        job_done = False
        if not (current is not None and matches and current.entity_state in IN_FLIGHT_STATES):
            job_done = self._put(service, plan, entitled, info, deadline)
        what = f"assign {service}/{plan} to {subaccount}"
        settled = _Settled(what, wanted, started=job_done)
        result = poll(
            lambda: self.get_assignment(subaccount, service, plan, deadline=deadline),
            done=settled,
            policy=self.poll_policy,
            deadline=deadline,
            what=what,
        )
        assert result is not None
        return result

    def unassign(
        self,
        subaccount: str,
        service: str,
        plan: str,
        *,
        timeout: float = DEFAULT_TIMEOUTS["entitlement"],
        known: EntitlementRead | None = None,
    ) -> None:
        """Remove the assignment (``amount: 0`` / ``enable: false``) and wait until it is gone (``known``: as
        for :meth:`assign`)."""
        deadline = Deadline(timeout)
        start = self._start(subaccount, service, plan, known, deadline)
        if start.assignment is None:
            return
        entitled = start.entitled()
        info: dict[str, Any] = {"subaccountGUID": subaccount}
        info |= {"amount": 0} if entitled.has_numeric_quota else {"enable": False}
        self._put(service, plan, entitled, info, deadline)
        what = f"unassign {service}/{plan} from {subaccount}"

        def gone(found: PlanAssignment | None) -> bool:
            if found is not None and found.entity_state == "PROCESSING_FAILED":
                raise OperationFailedError(f"{what}: PROCESSING_FAILED", description=found.state_message)
            # A numeric plan may linger with amount 0 once un-assigned: that is gone, too.
            return found is None or (found.ready and found.has_numeric_quota and not found.amount)

        poll(
            lambda: self.get_assignment(subaccount, service, plan, deadline=deadline),
            done=gone,
            policy=self.poll_policy,
            deadline=deadline,
            what=what,
        )

    def _put(
        self, service: str, plan: str, entitled: EntitledPlan, info: dict[str, Any], deadline: Deadline
    ) -> bool:
        """PUT the assignment; on 202 with a ``Location`` job, wait for it (True if a job was awaited)."""
        what = f"update entitlement {service}/{plan} of {info['subaccountGUID']}"
        entry: dict[str, Any] = {"serviceName": service, "servicePlanName": plan, "assignmentInfo": [info]}
        if entitled.unique_identifier:
            entry["servicePlanUniqueIdentifier"] = entitled.unique_identifier
        response = self.transport.request(
            "PUT",
            SUBACCOUNT_PLANS,
            json={"subaccountServicePlans": [entry]},
            ok=(200, 201, 202, 204),
            deadline=deadline,
            what=what,
        )
        location = response.headers.get("Location")
        if response.status_code == 202 and location:
            self._wait_for_job(location, deadline, what)
            return True
        return False

    def _wait_for_job(self, location: str, deadline: Deadline, what: str) -> None:
        """Poll a job status (§C.1) until ``COMPLETED``; ``FAILED`` → :class:`OperationFailedError`."""

        status = location if location.rstrip("/").endswith("/status") else location.rstrip("/") + "/status"

        def fetch() -> dict[str, Any]:
            response = self.transport.request("GET", status, deadline=deadline, what=f"{what} (job status)")
            return json_object(response, what)

        def done(job: dict[str, Any]) -> bool:
            state = str(job.get("status", "")).upper()
            if state == "FAILED":
                raise OperationFailedError(
                    f"{what}: job failed", description=_text(job.get("description")), operation=what
                )
            return state == "COMPLETED"

        poll(fetch, done=done, policy=self.poll_policy, deadline=deadline, what=what, wait_first=True)


class _Settled:
    """``done`` of the assign poll: OK with the wanted amount; errors for failure or a concurrent change.

    An OK assignment with another amount is ignored until our change has visibly started (a busy state was
    seen, or the job completed): after that it means another writer changed it → :class:`ConflictError`.
    """

    def __init__(self, what: str, wanted: int | None, *, started: bool) -> None:
        self.what = what
        self.wanted = wanted
        self.started = started

    def __call__(self, found: PlanAssignment | None) -> bool:
        if found is None:
            return False
        if found.entity_state == "PROCESSING_FAILED":
            raise OperationFailedError(
                f"{self.what}: PROCESSING_FAILED", description=found.state_message, operation=self.what
            )
        if not found.ready:
            self.started = True
            return False
        if self.wanted is None or found.amount == self.wanted:
            return True
        if self.started:
            raise ConflictError(
                f"{self.what}: changed concurrently to amount {found.amount:g}", operation=self.what
            )
        return False


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _find(items: object, key: str, name: str) -> dict[str, Any] | None:
    if not isinstance(items, list):
        return None
    for item in items:
        if isinstance(item, dict) and item.get(key) == name:
            return item
    return None


def _entitled_plan(body: dict[str, Any], service: str, plan: str) -> EntitledPlan:
    entry = _find(body.get("entitledServices"), "name", service)
    plan_entry = _find(entry.get("servicePlans") if entry else None, "name", plan)
    if plan_entry is None:
        what = f"entitlement {service}/{plan}"
        raise NotFoundError(
            f"{what}: the global account is not entitled to this plan", status=404, operation=what
        )
    return EntitledPlan(
        service=service,
        plan=plan,
        category=_text(plan_entry.get("category")),
        amount=_number(plan_entry.get("amount")),
        remaining_amount=_number(plan_entry.get("remainingAmount")),
        unlimited=bool(plan_entry.get("unlimited", False)),
        unique_identifier=_text(plan_entry.get("uniqueIdentifier")),
    )


def _assignment(body: dict[str, Any], subaccount: str, service: str, plan: str) -> PlanAssignment | None:
    entry = _find(body.get("assignedServices"), "name", service)
    plan_entry = _find(entry.get("servicePlans") if entry else None, "name", plan)
    if plan_entry is None:
        return None
    infos = plan_entry.get("assignmentInfo")
    info = next(
        (
            item
            for item in (infos if isinstance(infos, list) else [])
            if isinstance(item, dict)
            and item.get("entityId") == subaccount
            and item.get("entityType", "SUBACCOUNT") == "SUBACCOUNT"
        ),
        None,
    )
    if info is None:
        return None
    try:
        entitled = _entitled_plan(body, service, plan)
        category, numeric = entitled.category, entitled.has_numeric_quota
    except NotFoundError:
        category = _text(plan_entry.get("category"))
        numeric = category not in ENABLE_CATEGORIES and _number(info.get("amount")) is not None
    return PlanAssignment(
        subaccount=subaccount,
        service=service,
        plan=plan,
        category=category,
        has_numeric_quota=numeric,
        amount=_number(info.get("amount")),
        entity_state=str(info.get("entityState", "")),
        state_message=_text(info.get("stateMessage")),
        unique_identifier=_text(plan_entry.get("uniqueIdentifier")),
        auto_assigned=bool(info.get("autoAssigned", False)),
    )

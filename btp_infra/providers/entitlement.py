"""``SubaccountEntitlement``: one service plan assigned to the tenant's subaccount.

``amount`` is sent for plans with a numeric quota, ``enable`` for the others; the client reads the plan's
category from the Entitlements API before writing anything (btp-api.md §C.2).

Ownership. An assignment that existed before the stack is *adopted* (output ``adopted``, with the amount it
had as ``previousAmount``): delete gives back what it found (the previous amount) instead of unassigning it,
unless the stack sets ``btp-infra:takeOwnership``. An owned assignment is kept, too, while Service Manager
instances of the plan remain in the subaccount (someone still uses it). Refresh reads the live amount into
``amount``, so the next ``up`` corrects drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

import pulumi
from pulumi.dynamic import CheckFailure, CreateResult, ReadResult, Resource, UpdateResult

from btp_infra.btp.entitlements import EntitlementRead, PlanAssignment
from btp_infra.btp.errors import NoAdminAccessError, NotFoundError, SubaccountGoneError
from btp_infra.btp.service_manager import ServiceManagerClient
from btp_infra.btp.sm_models import is_tenants, quote
from btp_infra.conventions import DEFAULT_TIMEOUTS, ROLLBACK_TIMEOUT
from btp_infra.providers.base import BtpProvider, is_unknown, log
from btp_infra.providers.instance import remove_instance
from btp_infra.providers.spec import ResourceSpec, optional_bool, optional_timeout, required_str


def whole_amount(news: Mapping[str, Any], key: str, failures: list[CheckFailure]) -> None:
    """Absent, or a whole number ≥ 1 (Pulumi hands every number over as a float)."""
    amount = news.get(key)
    if amount is None or is_unknown(amount):
        return
    if isinstance(amount, bool) or not isinstance(amount, int | float) or int(amount) != amount or amount < 1:
        failures.append(CheckFailure(key, f"{key} must be a whole number ≥ 1 or absent, got {amount!r}"))


class SubaccountEntitlementInputs(TypedDict):
    """The inputs, by their names in state."""

    subaccountId: pulumi.Input[str]
    serviceName: str
    planName: str
    amount: int | None
    tenant: str | None
    takeOwnership: bool
    timeoutSeconds: float | None


class SubaccountEntitlementOutputs(TypedDict):
    """The computed outputs (``None`` until created)."""

    category: str | None
    state: str | None
    assignedAmount: float | None
    # Ownership, known once created: set by create (and carried over by update), not by a read.
    adopted: NotRequired[bool | None]
    previousAmount: NotRequired[float | None]


SPEC = ResourceSpec.of(
    SubaccountEntitlementInputs,
    SubaccountEntitlementOutputs,
    replace_on=("subaccountId", "serviceName", "planName"),
    checks={
        "subaccountId": required_str,
        "serviceName": required_str,
        "planName": required_str,
        "amount": whole_amount,
        "takeOwnership": optional_bool,
        "timeoutSeconds": optional_timeout,
    },
)


def entitlement_id(subaccount_id: str, service: str, plan: str) -> str:
    """The resource id, as terraform-provider-btp's import id: ``<subaccount>,<service>,<plan>``."""
    return f"{subaccount_id},{service},{plan}"


class SubaccountEntitlementProvider(BtpProvider):
    """Assigns (and on delete unassigns) one service plan to one subaccount."""

    spec = SPEC
    default_timeout = float(DEFAULT_TIMEOUTS["entitlement"])

    def create(self, props: dict[str, Any]) -> CreateResult:
        key = (props["subaccountId"], props["serviceName"], props["planName"])
        known = self.entitlements().read(*key)
        existing = _effective(known.assignment)
        try:
            outs = self._assign(props, known)
        except Exception:
            if existing is None:
                self._roll_back(props)
            raise
        outs["adopted"] = existing is not None
        numeric = existing is not None and existing.has_numeric_quota
        outs["previousAmount"] = existing.amount if existing is not None and numeric else None
        return CreateResult(entitlement_id(*key), outs)

    def _roll_back(self, props: dict[str, Any]) -> None:
        """Undo a failed create's assignment (failed, or done but not confirmed): Pulumi records no partial
        creates, so a destroy would never remove it. Best effort; the create's own error is what is raised."""
        try:
            self.entitlements().unassign(
                props["subaccountId"], props["serviceName"], props["planName"], timeout=ROLLBACK_TIMEOUT
            )
        except Exception as err:
            log.warning(
                "could not roll back entitlement %s/%s of %s after the failed create: %s",
                props["serviceName"],
                props["planName"],
                props["subaccountId"],
                err,
            )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if SPEC.behaviour_only(olds, news):  # timeout, takeOwnership: recorded, nothing to call
            return UpdateResult({**olds, **SPEC.inputs_of(news)})
        outs = self._assign(news)
        outs["adopted"], outs["previousAmount"] = olds.get("adopted"), olds.get("previousAmount")
        return UpdateResult(outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        guid = props["subaccountId"]
        try:
            assignment = _effective(
                self.entitlements().get_assignment(guid, props["serviceName"], props["planName"])
            )
        except NotFoundError:
            if self.subaccount_exists(guid):
                raise
            assignment = None  # gone with its subaccount
        if assignment is None:
            return ReadResult("", {})
        outs = {**props, **_outputs(assignment)}
        declared = props.get("amount")
        if assignment.has_numeric_quota and assignment.amount != (1 if declared is None else declared):
            # A changed amount is drift: record the live one so that the next `up` assigns the declared one.
            outs["amount"] = int(assignment.amount or 0)
        return ReadResult(id_, outs)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        guid, service, plan = props["subaccountId"], props["serviceName"], props["planName"]
        what = f"entitlement {service}/{plan} of subaccount {guid}"
        client, timeout = self.entitlements(), self.timeout_of(props)
        try:
            known = client.read(guid, service, plan)
        except NotFoundError:
            if self.subaccount_exists(guid):
                raise
            log.warning("btp-infra: %s: the subaccount no longer exists; it is gone with it", what)
            return
        current = _effective(known.assignment)
        if current is None:
            return
        if current.auto_assigned:
            log.warning("btp-infra: kept %s: BTP assigns it automatically", what)
            return
        owned = props.get("adopted") is not True or props.get("takeOwnership") is True
        if not owned:
            previous = props.get("previousAmount")
            if current.has_numeric_quota and isinstance(previous, int | float) and previous != current.amount:
                log.warning("btp-infra: %s: adopted; restoring its previous amount %s", what, int(previous))
                client.assign(guid, service, plan, int(previous), timeout=timeout, known=known)
            else:
                log.warning(
                    "btp-infra: kept %s: it existed before this stack (adopted; set "
                    "btp-infra:takeOwnership to remove it with the stack)",
                    what,
                )
            return
        if not self._release_plan(guid, service, plan, props.get("tenant"), what, timeout):
            return
        client.unassign(guid, service, plan, timeout=timeout, known=known)

    def _release_plan(
        self, guid: str, service: str, plan: str, tenant: str | None, what: str, timeout: float
    ) -> bool:
        """Whether nothing uses the plan any more (SM instances of it in the subaccount). This tenant's own
        leftovers (instances a failed create left, owned by no resource) are removed first; anyone else's
        keep the entitlement. Without admin access (removed out of band, or deleted before the entitlements,
        as in a subaccount the stack created) it is borrowed for the check
        (:meth:`~btp_infra.providers.base.BtpProvider.cleanup_service_manager`). True when the subaccount is
        gone or the plan is not visible in Service Manager."""
        try:
            sm = self.service_manager(guid)
        except SubaccountGoneError:
            return True
        except NoAdminAccessError:
            with self.cleanup_service_manager(guid, what) as borrowed:
                return borrowed is None or self._release_in(borrowed, service, plan, tenant, what, timeout)
        return self._release_in(sm, service, plan, tenant, what, timeout)

    @staticmethod
    def _release_in(
        sm: ServiceManagerClient, service: str, plan: str, tenant: str | None, what: str, timeout: float
    ) -> bool:
        try:
            found = sm.find_plan(service, plan)
        except NotFoundError:
            return True
        users = sm.list_instances(field_query=f"service_plan_id eq {quote(found.id)}")
        others = [i.name for i in users if not is_tenants(i, tenant)]
        if others:
            log.warning(
                "btp-infra: kept %s: %d service instance(s) still use it (%s)",
                what,
                len(others),
                ", ".join(others[:5]),
            )
            return False
        for leftover in users:
            remove_instance(sm, leftover.id, timeout)
        return True

    def _assign(self, props: dict[str, Any], known: EntitlementRead | None = None) -> dict[str, Any]:
        amount = props.get("amount")
        # assign() starts from `known` (a read just made) and returns the settled assignment: no second read.
        assignment = self.entitlements().assign(
            props["subaccountId"],
            props["serviceName"],
            props["planName"],
            int(amount) if amount is not None else None,
            timeout=self.timeout_of(props),
            known=known,
        )
        return {**SPEC.inputs_of(props), **_outputs(assignment)}


def _effective(assignment: PlanAssignment | None) -> PlanAssignment | None:
    """The assignment, or ``None`` for none at all and for a numeric plan lingering with amount 0."""
    if assignment is None or (assignment.has_numeric_quota and not assignment.amount):
        return None
    return assignment


def _outputs(assignment: PlanAssignment) -> SubaccountEntitlementOutputs:
    return {
        "category": assignment.category,
        "state": assignment.entity_state,
        "assignedAmount": assignment.amount,
    }


class SubaccountEntitlement(Resource, module="btp", name="SubaccountEntitlement"):
    """A service plan entitled to a subaccount (``amount`` only for plans with a numeric quota)."""

    subaccountId: pulumi.Output[str]
    serviceName: pulumi.Output[str]
    planName: pulumi.Output[str]
    category: pulumi.Output[str]
    state: pulumi.Output[str]
    adopted: pulumi.Output[bool]

    def __init__(
        self,
        name: str,
        *,
        subaccount_id: pulumi.Input[str],
        service_name: str,
        plan_name: str,
        amount: int | None = None,
        tenant: str | None = None,
        take_ownership: bool = False,
        timeout_seconds: float | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        inputs: SubaccountEntitlementInputs = {
            "subaccountId": subaccount_id,
            "serviceName": service_name,
            "planName": plan_name,
            "amount": amount,
            "tenant": tenant,
            "takeOwnership": take_ownership,
            "timeoutSeconds": timeout_seconds,
        }
        super().__init__(SubaccountEntitlementProvider(), name, SPEC.props(inputs), opts)

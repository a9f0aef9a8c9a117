"""``SubaccountEntitlement``: one service plan assigned to the tenant's subaccount.

``amount`` is sent for plans with a numeric quota, ``enable`` for the others; the client reads the plan's
category from the Entitlements API before writing anything (btp-api.md §C.2).
"""

from __future__ import annotations

import logging
from typing import Any

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

from btp_infra.providers.base import (
    BtpProvider,
    check_result,
    diff_inputs,
    inputs_of,
    is_unknown,
    require_str,
    require_timeout,
)

INPUTS = ("subaccountId", "serviceName", "planName", "amount", "timeoutSeconds")
ROLLBACK_TIMEOUT = 300.0
log = logging.getLogger(__name__)


def entitlement_id(subaccount_id: str, service: str, plan: str) -> str:
    """The resource id, as terraform-provider-btp's import id: ``<subaccount>,<service>,<plan>``."""
    return f"{subaccount_id},{service},{plan}"


class SubaccountEntitlementProvider(BtpProvider):
    """Assigns (and on delete unassigns) one service plan to one subaccount."""

    default_timeout = 600.0

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures: list[CheckFailure] = []
        for key in ("subaccountId", "serviceName", "planName"):
            require_str(news, key, failures)
        amount = news.get("amount")
        if (
            amount is not None
            and not is_unknown(amount)
            and (
                isinstance(amount, bool)
                or not isinstance(amount, int | float)
                or int(amount) != amount
                or amount < 1
            )
        ):
            failures.append(
                CheckFailure("amount", f"amount must be a whole number ≥ 1 or absent, got {amount!r}")
            )
        require_timeout(news, failures)
        return check_result(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return diff_inputs(olds, news, keys=INPUTS, replace_keys=("subaccountId", "serviceName", "planName"))

    def create(self, props: dict[str, Any]) -> CreateResult:
        key = (props["subaccountId"], props["serviceName"], props["planName"])
        existed = self.entitlements().get_assignment(*key) is not None
        try:
            outs = self._assign(props)
        except Exception:
            if not existed:
                self._roll_back(props)
            raise
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
        return UpdateResult(self._assign(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        assignment = self.entitlements().get_assignment(
            props["subaccountId"], props["serviceName"], props["planName"]
        )
        if assignment is None:
            return ReadResult("", {})
        return ReadResult(id_, {**props, **_outputs(assignment)})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        self.entitlements().unassign(
            props["subaccountId"], props["serviceName"], props["planName"], timeout=self.timeout_of(props)
        )

    def _assign(self, props: dict[str, Any]) -> dict[str, Any]:
        amount = props.get("amount")
        # assign() returns the settled assignment: no second read.
        assignment = self.entitlements().assign(
            props["subaccountId"],
            props["serviceName"],
            props["planName"],
            int(amount) if amount is not None else None,
            timeout=self.timeout_of(props),
        )
        return {**inputs_of(props, INPUTS), **_outputs(assignment)}


def _outputs(assignment: Any) -> dict[str, Any]:
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

    def __init__(
        self,
        name: str,
        *,
        subaccount_id: pulumi.Input[str],
        service_name: str,
        plan_name: str,
        amount: int | None = None,
        timeout_seconds: float | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "subaccountId": subaccount_id,
            "serviceName": service_name,
            "planName": plan_name,
            "amount": amount,
            "timeoutSeconds": timeout_seconds,
            "category": None,
            "state": None,
            "assignedAmount": None,
        }
        super().__init__(SubaccountEntitlementProvider(), name, props, opts)

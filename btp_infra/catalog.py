"""Offline knowledge of well-known BTP service plans: does an entitlement take an ``amount``?

The Entitlements API takes ``amount`` only for plans with a numeric quota and ``enable`` for all others
(btp-api.md §C.2). The live plan ``category`` decides at create time (the providers read it); this catalog
only lets the offline config check reject an ``amount`` on plans known to have no numeric quota. Plans that
are not listed are allowed offline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from btp_infra.conventions import OPERATOR_OFFERING, OPERATOR_PLAN

__all__ = [
    "KNOWN_PLANS",
    "OPERATOR_ACCESS",
    "PlanInfo",
    "known_plan",
    "plan_takes_amount",
]


@dataclass(frozen=True)
class PlanInfo:
    """What is known offline about one service plan."""

    service: str
    plan: str
    takes_amount: bool
    """True: numeric quota (``amount`` allowed; the live category decides whether it is needed).
    False: no numeric quota (entitled with ``enable``; an ``amount`` is a config error)."""
    reason: str
    """Why we believe it (source), shown in error messages."""


#: The plan every tenant is entitled to first: the credentials for the SAP BTP service operator.
OPERATOR_ACCESS: tuple[str, str] = (OPERATOR_OFFERING, OPERATOR_PLAN)

_PLANS: tuple[PlanInfo, ...] = (
    PlanInfo(
        OPERATOR_OFFERING,
        OPERATOR_PLAN,
        False,
        "SAP's Terraform samples entitle it without an amount; btp-api.md §C.2",
    ),
    PlanInfo(
        OPERATOR_OFFERING,  # Service Manager's own offering
        "subaccount-admin",
        False,
        "auto-assigned to every subaccount without quota (architecture.md, BTP emulator catalog)",
    ),
    PlanInfo(
        "xsuaa",
        "application",
        False,
        "plan category APPLICATION; btp-api.md §C.2",
    ),
    PlanInfo(
        "destination",
        "lite",
        False,
        "SAP's Terraform samples entitle it without an amount",
    ),
    PlanInfo(
        "hana-cloud",
        "hana",
        True,
        (
            "numeric quota (amount = number of instances) in quota-based accounts and in the BTP emulator; "
            "consumption-based accounts may entitle it without one, so a missing amount is not an error"
        ),
    ),
)

#: ``(service, plan) -> PlanInfo`` for every plan known offline.
KNOWN_PLANS: Mapping[tuple[str, str], PlanInfo] = MappingProxyType({(p.service, p.plan): p for p in _PLANS})


def known_plan(service: str, plan: str) -> PlanInfo | None:
    """The catalog entry for ``service/plan``, or None when the plan is not known offline."""
    return KNOWN_PLANS.get((service, plan))


def plan_takes_amount(service: str, plan: str) -> bool | None:
    """Does ``service/plan`` take an ``amount``? True/False when known offline, None when unknown."""
    info = known_plan(service, plan)
    return None if info is None else info.takes_amount

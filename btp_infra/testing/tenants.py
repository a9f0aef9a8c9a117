"""Test machinery: default tenants as the test suite and the benchmarks stage them, and the counts of their
BTP objects in the emulator's state (``SandboxServer.state()``, ``GET /sandbox/state``).

Owns the engine-form config of a default tenant, a ``LocalEngine`` for it, and the questions both ask of the
emulator afterwards: how many of each object of a tenant's chain exist, what is left, which objects match.
Works on state documents only (never the emulator's internals), so it imports no web server and serves an
emulator in this process or in a child process alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

from btp_infra.conventions import OPERATOR_OFFERING, OPERATOR_PLAN, config_key, instance_name

if TYPE_CHECKING:
    from btp_infra.testing.local_engine import LocalEngine

__all__ = [
    "EMULATOR_OBJECT_KINDS",
    "KUBE_CONTEXT",
    "ONE_OF_EACH",
    "EmulatorState",
    "chain_objects",
    "engine",
    "exactly_one_of_each",
    "is_empty",
    "leftovers",
    "objects",
    "tenant_config",
]

KUBE_CONTEXT: Final = "kyma"
"""The ``btp-infra:kubeContext`` of every staged tenant (the local engine never reaches a cluster)."""
EMULATOR_OBJECT_KINDS: Final = ("assignments", "admin_bindings", "instances", "bindings")
"""The kinds of object a tenant can leave in the emulator's state."""
ONE_OF_EACH: Final[dict[str, int]] = {
    "entitlement": 1,
    "entitlement OK": 1,
    "admin binding": 1,
    "instance": 1,
    "binding": 1,
}
"""``chain_objects(..., ready=True)`` of a tenant after a successful create."""
_OPERATOR: Final = (OPERATOR_OFFERING, OPERATOR_PLAN)


class EmulatorState(Protocol):
    """An emulator that can report its state: ``SandboxServer`` or a benchmark's remote one."""

    def state(self) -> dict[str, Any]: ...


def tenant_config(namespace: str, subaccount: str, **extra: str) -> dict[str, str]:
    """Engine-form stack config of a default tenant, plus ``extra`` ``btp-infra:`` keys (already engine-form
    strings)."""
    return {
        config_key("namespace"): namespace,
        config_key("subaccountId"): subaccount,
        config_key("kubeContext"): KUBE_CONTEXT,
        **{config_key(key): value for key, value in extra.items()},
    }


def engine(namespace: str, subaccount: str, **extra: str) -> LocalEngine:
    """A local engine (dynamic resources executed for real) for :func:`tenant_config`'s tenant."""
    # Imported on use: it loads the Pulumi SDK, whose cold start the benchmarks time separately.
    from btp_infra.testing.local_engine import LocalEngine

    return LocalEngine(namespace, tenant_config(namespace, subaccount, **extra))


def chain_objects(
    state: Mapping[str, Any], namespace: str, guid: str, *, ready: bool = False
) -> dict[str, int]:
    """How many of each BTP object of one tenant's chain the emulator holds (1 each after a create): the
    operator-access entitlement (with ``ready``: also how many of those are ``OK``), the admin binding, the
    operator-access instance and its bindings."""
    name = instance_name(namespace)
    operator = [
        a for a in state["assignments"] if (a["subaccount"], a["service"], a["plan"]) == (guid, *_OPERATOR)
    ]
    counts = {"entitlement": len(operator)}
    if ready:
        counts["entitlement OK"] = sum(1 for a in operator if a["entityState"] == "OK")
    counts["admin binding"] = sum(1 for a in state["admin_bindings"] if a["subaccount"] == guid)
    counts["instance"] = sum(1 for i in state["instances"] if i["subaccount"] == guid and i["name"] == name)
    counts["binding"] = sum(
        1 for b in state["bindings"] if b["subaccount"] == guid and b["name"].startswith(name + "-")
    )
    return counts


def exactly_one_of_each(emulator: EmulatorState, namespace: str, guid: str) -> dict[str, int]:
    """:func:`chain_objects` with ``ready`` of the emulator's current state (``ONE_OF_EACH`` when whole)."""
    return chain_objects(emulator.state(), namespace, guid, ready=True)


def leftovers(state: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Everything tenants left in the emulator, by kind; all lists empty = empty."""
    return {kind: list(state[kind]) for kind in EMULATOR_OBJECT_KINDS}


def is_empty(state: Mapping[str, Any]) -> bool:
    """Whether no tenant left anything in the emulator."""
    return not any(leftovers(state).values())


def objects(state: Mapping[str, Any], kind: str, **match: Any) -> list[dict[str, Any]]:
    """The emulator's ``kind`` objects (``instances``, ``bindings``, ...) whose fields equal ``match``."""
    found: list[dict[str, Any]] = state[kind]
    return [o for o in found if all(o.get(k) == v for k, v in match.items())]

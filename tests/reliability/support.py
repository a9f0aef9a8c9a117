"""Helpers of the reliability suite: tenant configs, BTP object counts, emulator secrets, error checks."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from emulator_fixtures import FAST, SUBACCOUNT_1, sandbox_seeds

from btp_infra.btp.http import PollPolicy, RetryPolicy
from btp_infra.local_engine import LocalEngine
from btp_infra.sandbox import SandboxConfig, SandboxServer

NAMESPACE = "incident"
OPERATOR = ("service-manager", "service-operator-access")
READ_TIMEOUT = 0.5
"""The clients' read timeout in this suite: the emulator's ``timeout`` fault answers 0.5 s after it."""
FAST_RETRY = RetryPolicy(
    backoff_base=0.02, backoff_cap=0.1, read_timeout=READ_TIMEOUT, connect_timeout=2.0, call_deadline=60.0
)
FAST_POLL = PollPolicy(initial=0.02, ratio=0.1, cap=0.1)


def sandbox_config(**changes: Any) -> SandboxConfig:
    """Two subaccounts (``SUBACCOUNT_1``/``_2``), tiny latencies, plain HTTP unless ``tls=True``, and
    ``Retry-After`` in seconds (an HTTP-date rounds up to the next whole second: up to 1 s more per 429)."""
    defaults: dict[str, Any] = {
        "subaccounts": sandbox_seeds(),
        "latencies": FAST,
        "retry_after_format": "seconds",
    }
    return SandboxConfig(**{**defaults, **changes})


def tenant_config(namespace: str = NAMESPACE, subaccount: str = SUBACCOUNT_1, **extra: str) -> dict[str, str]:
    """Engine-form stack config of a default tenant (plus ``extra`` ``btp-infra:`` keys)."""
    return {
        "btp-infra:namespace": namespace,
        "btp-infra:subaccountId": subaccount,
        **{f"btp-infra:{k}": v for k, v in extra.items()},
    }


def engine(namespace: str = NAMESPACE, subaccount: str = SUBACCOUNT_1, **extra: str) -> LocalEngine:
    return LocalEngine(namespace, tenant_config(namespace, subaccount, **extra))


def chain_objects(
    state: Mapping[str, Any], namespace: str = NAMESPACE, guid: str = SUBACCOUNT_1
) -> dict[str, int]:
    """How many of each BTP object of the tenant the emulator holds (1 each after a create)."""
    name = f"btp-infra-{namespace}-operator-access"
    return {
        "entitlement": sum(
            1 for a in state["assignments"] if (a["subaccount"], a["service"], a["plan"]) == (guid, *OPERATOR)
        ),
        "entitlement OK": sum(
            1
            for a in state["assignments"]
            if (a["subaccount"], a["service"], a["plan"]) == (guid, *OPERATOR) and a["entityState"] == "OK"
        ),
        "admin binding": sum(1 for a in state["admin_bindings"] if a["subaccount"] == guid),
        "instance": sum(1 for i in state["instances"] if i["subaccount"] == guid and i["name"] == name),
        "binding": sum(
            1 for b in state["bindings"] if b["subaccount"] == guid and b["name"].startswith(name + "-")
        ),
    }


def exactly_one_of_each(sandbox: SandboxServer) -> dict[str, int]:
    return chain_objects(sandbox.state())


ONE_OF_EACH = {"entitlement": 1, "entitlement OK": 1, "admin binding": 1, "instance": 1, "binding": 1}


def leftovers(sandbox: SandboxServer) -> dict[str, list[Any]]:
    """Everything a tenant can leave in the emulator; all lists empty = empty."""
    state = sandbox.state()
    return {kind: state[kind] for kind in ("assignments", "admin_bindings", "instances", "bindings")}


def is_empty(sandbox: SandboxServer) -> bool:
    return not any(leftovers(sandbox).values())


def emulator_secrets(sandbox: SandboxServer) -> list[str]:
    """Every secret the emulator issued or holds: the cis client secret, binding client secrets, and for x509
    private keys three lines of the PEM body (a multi-line secret is found even where it is JSON-escaped)."""
    store = sandbox.runtime.store
    found = [store.cis_client.secret or ""]
    for binding in store.bindings.values():
        found.append(str(binding.credentials.get("clientsecret") or ""))
        found.append(binding.client.secret or "")
        body = [
            line for line in str(binding.credentials.get("key") or "").splitlines() if "-----" not in line
        ]
        if body:
            found += [body[0], body[len(body) // 2], body[-1]]
    return sorted({s for s in found if len(s) >= 8})


_VERBS = re.compile(
    r"\b(create|delete|get|list|read|assign|unassign|update|find|wait|adopt|token|remove|poll)\b",
    re.IGNORECASE,
)
_FAILURES = re.compile(
    r"\b(429|500|502|503|504)\b|Too Many Requests|Internal Server Error|Bad Gateway|failed|time(d)? ?out"
    r"|timeout|did not finish|connection|reset|refused|not found|locked|conflict",
    re.IGNORECASE,
)


def error_text(error: BaseException) -> str:
    """What a user sees: the type, the message and the chained causes' messages."""
    parts: list[str] = []
    current: BaseException | None = error
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def clarity_problems(error: BaseException, secrets: Iterable[str]) -> list[str]:
    """Why ``error`` is not a clear error (empty list: it is): it must name the operation and what went
    wrong, and reveal no secret."""
    head = f"{type(error).__name__}: {error}"
    problems = []
    if not _VERBS.search(head):
        problems.append(f"does not name the operation: {head!r}")
    if not _FAILURES.search(head):
        problems.append(f"does not say what failed: {head!r}")
    full = error_text(error)
    problems += [f"reveals a secret ({s[:4]}…)" for s in secrets if s and s in full]
    return problems

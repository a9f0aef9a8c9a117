"""Helpers for the BTP client tests against the emulator (no fixtures here: see ``btp_emulator``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from btp_infra.btp.http import PollPolicy, RetryPolicy
from btp_infra.sandbox import SandboxServer

FAST_POLL = PollPolicy(initial=0.02, ratio=0.1, cap=0.2)
READ_TIMEOUT = 1.0


def fast_retry(**overrides: Any) -> RetryPolicy:
    """Real sleeps, but short ones."""
    settings: dict[str, Any] = {"backoff_base": 0.02, "backoff_cap": 0.1, "read_timeout": READ_TIMEOUT}
    settings.update(overrides)
    return RetryPolicy(**settings)


class Sleeps:
    """An injectable ``sleep`` that records instead of waiting (where the waiting is not under test)."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def secrets_of(sandbox: SandboxServer) -> list[str]:
    """Every secret value the emulator has issued so far (cis secret, binding secrets and keys)."""
    found = [str(sandbox.cis_service_key()["uaa"]["clientsecret"])]
    with sandbox.runtime.store.lock:
        for binding in sandbox.runtime.store.bindings.values():
            for name in ("clientsecret", "key"):
                if binding.credentials.get(name):
                    found.append(str(binding.credentials[name]))
        found.extend(sandbox.runtime.store.tokens)
    return found


def api_calls(sandbox: SandboxServer, method: str, route: str, *, at_least: int = 0) -> list[dict[str, Any]]:
    """The emulator's log entries of ``method route`` (route template).

    The emulator logs a call after answering it, so wait (briefly) until ``at_least`` entries are there.
    """
    deadline = time.monotonic() + 2.0
    while True:
        found = [c for c in sandbox.calls() if c["method"] == method and c["route"] == route]
        if len(found) >= at_least or time.monotonic() > deadline:
            return found
        time.sleep(0.01)


def wait_until(probe: Callable[[], object], timeout: float = 5.0) -> None:
    """Spin until ``probe()`` is truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)

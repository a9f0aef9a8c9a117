"""Helpers of the BTP client tests against the emulator (fixtures: ``conftest.py``, ``emulator_fixtures``)."""

from __future__ import annotations

import time
from typing import Any

from emulator_fixtures import secrets_of, wait_until

from btp_infra.btp.http import PollPolicy, RetryPolicy
from btp_infra.sandbox import SandboxServer

__all__ = ["FAST_POLL", "READ_TIMEOUT", "Sleeps", "api_calls", "fast_retry", "secrets_of", "wait_until"]

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

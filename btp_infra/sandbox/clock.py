"""The emulator's clock: monotonic time plus an offset that tests may advance.

Every time-based state (operations, entitlement states, token expiry, rate-limit windows) is derived from
``Clock.now()`` when it is read, so advancing the clock finishes pending operations without waiting.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta


class Clock:
    """Monotonic seconds with an adjustable offset; thread-safe."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return time.monotonic() + self._offset

    def wall(self) -> datetime:
        """Current UTC wall time, shifted like ``now()``."""
        with self._lock:
            return datetime.now(UTC) + timedelta(seconds=self._offset)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds

    async def sleep_until(self, deadline: float, stopping: threading.Event, step: float = 0.01) -> None:
        """Wait until ``now() >= deadline`` (or until ``stopping`` is set)."""
        while not stopping.is_set():
            remaining = deadline - self.now()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, step))


async def real_sleep(seconds: float, stopping: threading.Event, step: float = 0.05) -> None:
    """Sleep in real time (not the sandbox clock), ending early when ``stopping`` is set."""
    deadline = time.monotonic() + seconds
    while not stopping.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        await asyncio.sleep(min(remaining, step))


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

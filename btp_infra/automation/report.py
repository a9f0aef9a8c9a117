"""Showing a fleet run: live progress, the final table, one-line errors, and the JSON summary.

Live progress (:class:`FleetDisplay`): on a terminal, a rich table redrawn four times a second with one line
per stack — stack, status, the engine's current step (``create tenant-namespace``), elapsed time; on anything
else (CI logs, pipes) one plain line when a stack starts and one when it ends.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Final

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from btp_infra.automation.model import CHANGE_KINDS, FleetResult, ProgressUpdate, fleet_json

__all__ = ["FleetDisplay", "format_duration", "print_error", "print_summary"]

_FINAL: Final = frozenset({"succeeded", "failed", "refused"})
_STYLE: Final = {
    "queued": "dim",
    "starting": "cyan",
    "running": "cyan",
    "succeeded": "green",
    "failed": "red",
    "refused": "yellow",
}


def format_duration(seconds: float) -> str:
    """``4.2s``, ``3m05s``, ``1h02m``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def print_error(console: Console, message: str) -> None:
    """``error: <message>`` as one line (never wrapped, no markup interpretation)."""
    console.print(Text(f"error: {message}"), soft_wrap=True, highlight=False)


def print_summary(console: Console, result: FleetResult) -> None:
    """The final table (one row per stack) and a totals line."""
    if result.error:
        print_error(console, result.error)
    if not result.stacks:
        if not result.error:
            console.print(Text(f"{result.operation}: no stacks selected"), soft_wrap=True)
        return
    table = Table(title=f"btp-infra {result.operation}", title_justify="left")
    table.add_column("Stack", no_wrap=True)
    table.add_column("Result", no_wrap=True)
    for kind in CHANGE_KINDS:
        table.add_column(kind.capitalize() + "s", justify="right")
    table.add_column("Duration", justify="right", no_wrap=True)
    table.add_column("Error", overflow="fold")
    for s in result.stacks:
        table.add_row(
            s.stack,
            Text(s.result, style=_STYLE[s.result]),
            *(str(s.count(kind)) for kind in CHANGE_KINDS),
            format_duration(s.duration_seconds),
            Text(s.error or ""),
        )
    console.print(table)
    totals = fleet_json(result)["totals"]
    assert isinstance(totals, dict)
    console.print(
        Text(
            f"{totals['stacks']} stack(s): {totals['succeeded']} succeeded, {totals['failed']} failed, "
            f"{totals['refused']} refused"
        ),
        soft_wrap=True,
    )
    for s in result.stacks:  # what hooks reported (e.g. the offboarding's findings), stack by stack
        for line in s.notes:
            console.print(Text(f"[{s.stack}] {line}"), soft_wrap=True, highlight=False)


class FleetDisplay:
    """Live progress of a fleet run on ``console`` (a context manager; :meth:`update` from any thread)."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._lock = threading.Lock()
        self._rows: dict[str, ProgressUpdate] = {}
        self._started: dict[str, float] = {}
        self._live: Live | None = (
            Live(self, console=console, refresh_per_second=4, transient=False)
            if console.is_terminal
            else None
        )

    def update(self, update: ProgressUpdate) -> None:
        with self._lock:
            previous = self._rows.get(update.stack)
            self._rows[update.stack] = update
            if update.phase not in ("queued", *_FINAL) and update.stack not in self._started:
                self._started[update.stack] = time.monotonic() - update.elapsed
        if self._live is not None:
            return
        if update.phase == "starting" and (previous is None or previous.phase == "queued"):
            self._console.print(Text(f"[{update.stack}] started"), soft_wrap=True, highlight=False)
        elif update.phase in _FINAL:
            tail = f": {update.step}" if update.step else ""
            self._console.print(
                Text(f"[{update.stack}] {update.phase} after {format_duration(update.elapsed)}{tail}"),
                soft_wrap=True,
                highlight=False,
            )

    def __rich__(self) -> Table:
        table = Table(box=None, pad_edge=False, show_header=True)
        table.add_column("Stack", no_wrap=True)
        table.add_column("Status", no_wrap=True)
        table.add_column("Step", overflow="ellipsis", no_wrap=True)
        table.add_column("Elapsed", justify="right", no_wrap=True)
        now = time.monotonic()
        with self._lock:
            rows = list(self._rows.values())
            started = dict(self._started)
        for row in rows:
            if row.phase in _FINAL or row.stack not in started:
                elapsed = row.elapsed
            else:
                elapsed = now - started[row.stack]
            table.add_row(
                row.stack,
                Text(row.phase, style=_STYLE[row.phase]),
                Text(row.step or ""),
                format_duration(elapsed) if row.phase != "queued" else "",
            )
        return table

    def __enter__(self) -> FleetDisplay:
        if self._live is not None:
            self._live.start()
        return self

    def stop(self) -> None:
        if self._live is not None and self._live.is_started:
            self._live.stop()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

"""Hooks around one stack's engine run in a fleet: work that must happen per stack, right before or right
after its ``pulumi`` operation, inside the fleet's pool (``run_fleet(..., hooks=...)``).

The fleet calls :meth:`StackHooks.before` once the stack is selected in the backend and every refusal of
its own has passed (for ``destroy``: the tenant is not protected, neither in its stack file nor in its
state), so a hook never acts on a stack the fleet would refuse anyway. :meth:`StackHooks.after` runs only
when the operation succeeded. A hook stops the stack with :class:`StackRefused` (nothing was changed: result
``refused``) or :class:`StackFailed` (result ``failed``); what it wants reported goes into
:attr:`HookContext.details` (a JSON-ready mapping, under :attr:`StackHooks.key` in the stack's ``--json``
object) and :attr:`HookContext.notes` (lines printed under the final table). Hooks run in worker threads and
never print themselves; :meth:`HookContext.step` shows what they are doing in the live progress.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from pulumi.automation import Stack

    from btp_infra.automation.model import StackTarget

__all__ = ["HookContext", "StackFailed", "StackHooks", "StackRefused"]


class StackRefused(Exception):
    """The hook refuses the stack before its operation ran: nothing of it was changed."""


class StackFailed(Exception):
    """The hook failed the stack (its one-line message is the stack's error)."""


@dataclass
class HookContext:
    """What a hook gets: the operation, the selected stack, its target and a way to report progress.

    ``stack`` is the Automation API stack (``stack.get_config(key)`` reads a config value, decrypted, as the
    engine would). ``redact`` replaces the fleet's known secrets (passphrase, cis key) in a text."""

    operation: str
    target: StackTarget
    stack: Stack
    report_step: Callable[[str], None]
    redact: Callable[[str], str]
    details: dict[str, object] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def step(self, text: str) -> None:
        """Show ``text`` as the stack's current step in the live progress."""
        self.report_step(text)

    def note(self, line: str) -> None:
        """A line for the report under the final table (redacted)."""
        self.notes.append(self.redact(line))


class StackHooks(Protocol):
    """Per-stack work around a fleet operation. ``key``: the stack JSON key of :attr:`HookContext.details`."""

    key: str

    def before(self, ctx: HookContext) -> None: ...

    def after(self, ctx: HookContext) -> None: ...

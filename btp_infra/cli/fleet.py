"""``btp-infra preview | up | refresh | destroy``: fleet runs over the Automation API
(:func:`btp_infra.automation.run_fleet`; the ``--json`` shape is in docs/fleet-json.md). ``destroy`` offboards
each stack through :class:`btp_infra.operations.offboard.OffboardHooks` (``--wait``, ``--force``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from btp_infra.cli._app import main

if TYPE_CHECKING:
    from btp_infra.automation.hooks import StackHooks

_HELP = {
    "preview": "Preview the selected stacks (no change is made).",
    "up": "Create or update the selected stacks (a new stack is created in the backend first).",
    "refresh": "Refresh the state of the selected stacks from the cloud.",
    "destroy": "Delete every resource of the selected stacks (asks first unless --yes; protected tenants "
    "are refused before anything is deleted).\n\nBefore each stack's destroy, its tenant namespace is "
    "checked for SAP BTP service operator ServiceInstances/ServiceBindings: while any exist the stack is "
    "refused (deleting the operator Secret first would make the operator fall back to the cluster's own "
    "subaccount and orphan their instances). --wait deletes them (bindings first) and waits until the "
    "operator has removed them; --force skips the check. After the destroy, Service Manager is asked "
    "whether the operator-access instance and binding are gone, and what else is left in the subaccount "
    "is listed.",
}


def _run(
    operation: str,
    stacks: tuple[str, ...],
    all_: bool,
    parallel: int,
    yes: bool,
    as_json: bool,
    hooks: StackHooks | None = None,
) -> None:
    from rich.console import Console

    from btp_infra.automation import FleetSetupError, all_stacks, run_fleet

    if stacks and all_:
        raise click.UsageError("use either --stack or --all, not both")
    if not stacks and not all_:
        raise click.UsageError("select stacks: --stack NAME (repeatable) or --all")
    project = Path()
    console = Console(stderr=as_json, highlight=False)
    try:
        names = all_stacks(project) if all_ else list(stacks)
    except FleetSetupError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
    if operation == "destroy" and not yes:
        try:  # nothing selected: nothing to confirm (run_fleet reports the empty run)
            yes = not names or click.confirm(
                f"destroy every resource of {len(names)} stack(s): {', '.join(names)}?", err=True
            )
        except click.Abort:  # no answer (end of input)
            yes = False
    result = run_fleet(
        operation, names, project_dir=project, parallel=parallel, yes=yes, console=console, hooks=hooks
    )
    if as_json:
        click.echo(result.json_text())
    sys.exit(result.exit_code)


def _options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options every fleet command takes."""
    for decorator in reversed(
        [
            click.option(
                "--stack", "stacks", multiple=True, metavar="STACK", help="A stack to run (repeatable)."
            ),
            click.option("--all", "all_", is_flag=True, help="Every stack file in the stacks directory."),
            click.option(
                "--parallel", type=click.IntRange(min=1), default=4, show_default=True, help="Stacks at once."
            ),
            click.option("--yes", is_flag=True, help="Do not ask for confirmation (destroy)."),
            click.option(
                "--json",
                "as_json",
                is_flag=True,
                help="Print the summary as JSON (docs/fleet-json.md); progress to stderr.",
            ),
        ]
    ):
        command = decorator(command)
    return command


_EPILOG = (
    "One Pulumi workspace per stack on the project in the current directory, at most --parallel at once; "
    "the others finish when one fails. Exit code 0: all succeeded; 1: a stack failed or was refused; 2: "
    "nothing was attempted (no or too old Pulumi CLI, unknown stack, not confirmed)."
)


def _command(operation: str) -> Callable[..., Any]:
    @_options
    def command(stacks: tuple[str, ...], all_: bool, parallel: int, yes: bool, as_json: bool) -> None:
        _run(operation, stacks, all_, parallel, yes, as_json)

    command.__doc__ = f"{_HELP[operation]}\n\n{_EPILOG}"
    return main.command(operation)(command)


def _wait_timeout(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float | None:
    from btp_infra.conventions import parse_duration

    if value is None:
        return None
    try:
        return float(parse_duration(value))
    except ValueError as err:
        raise click.BadParameter(f"{value!r} {err}; valid: seconds or 90s/30m/1h, up to 24h") from None


@_options
@click.option(
    "--wait",
    is_flag=True,
    help="Delete the operator's ServiceBindings, then ServiceInstances, in each tenant namespace and wait "
    "until the operator has removed them, then destroy.",
)
@click.option(
    "--wait-timeout",
    metavar="DURATION",
    callback=_wait_timeout,
    help="How long --wait waits for the operator (seconds or 90s/30m/1h)  [default: 30m]",
)
@click.option(
    "--force",
    is_flag=True,
    help="Skip the operator-object check (a cluster that is gone): their instances may be orphaned.",
)
def _destroy(
    stacks: tuple[str, ...],
    all_: bool,
    parallel: int,
    yes: bool,
    as_json: bool,
    wait: bool,
    wait_timeout: float | None,
    force: bool,
) -> None:
    from btp_infra.operations.offboard import OffboardHooks, OffboardMode, WaitPolicy

    if wait and force:
        raise click.UsageError("use either --wait or --force, not both")
    if wait_timeout is not None and not wait:
        raise click.UsageError("--wait-timeout needs --wait")
    if force:
        click.echo(
            "WARNING: --force: the check for SAP BTP service operator ServiceInstances/ServiceBindings "
            "in the tenant namespaces is SKIPPED; any still there lose their credentials with the Secret, "
            "and the operator may orphan their instances in the tenants' subaccounts",
            err=True,
        )
    policy = WaitPolicy() if wait_timeout is None else WaitPolicy(timeout=wait_timeout)
    mode: OffboardMode = "wait" if wait else "force" if force else "refuse"
    _run("destroy", stacks, all_, parallel, yes, as_json, OffboardHooks(mode, policy))


_destroy.__doc__ = f"{_HELP['destroy']}\n\n{_EPILOG}"

preview = _command("preview")
up = _command("up")
refresh = _command("refresh")
destroy = main.command("destroy")(_destroy)

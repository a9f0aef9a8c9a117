"""``btp-infra preview | up | refresh | destroy``: fleet runs over the Automation API
(:func:`btp_infra.automation.run_fleet`; the ``--json`` shape is in docs/fleet-json.md)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from btp_infra.cli._app import main

_HELP = {
    "preview": "Preview the selected stacks (no change is made).",
    "up": "Create or update the selected stacks (a new stack is created in the backend first).",
    "refresh": "Refresh the state of the selected stacks from the cloud.",
    "destroy": "Delete every resource of the selected stacks (asks first unless --yes; protected tenants "
    "are refused before anything is deleted).",
}


def _run(
    operation: str, stacks: tuple[str, ...], all_: bool, parallel: int, yes: bool, as_json: bool
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
    result = run_fleet(operation, names, project_dir=project, parallel=parallel, yes=yes, console=console)
    if as_json:
        click.echo(result.json_text())
    sys.exit(result.exit_code)


def _command(operation: str) -> Callable[..., Any]:
    @click.option("--stack", "stacks", multiple=True, metavar="STACK", help="A stack to run (repeatable).")
    @click.option("--all", "all_", is_flag=True, help="Every stack file in the stacks directory.")
    @click.option(
        "--parallel",
        type=click.IntRange(min=1),
        default=4,
        show_default=True,
        help="Stacks at once.",
    )
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation (destroy).")
    @click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print the summary as JSON (docs/fleet-json.md); progress to stderr.",
    )
    def command(stacks: tuple[str, ...], all_: bool, parallel: int, yes: bool, as_json: bool) -> None:
        _run(operation, stacks, all_, parallel, yes, as_json)

    command.__doc__ = (
        f"{_HELP[operation]}\n\nOne Pulumi workspace per stack on the project in the current directory, "
        "at most --parallel at once; the others finish when one fails. Exit code 0: all succeeded; "
        "1: a stack failed or was refused; 2: nothing was attempted (no or too old Pulumi CLI, unknown "
        "stack, not confirmed)."
    )
    return main.command(operation)(command)


preview = _command("preview")
up = _command("up")
refresh = _command("refresh")
destroy = _command("destroy")

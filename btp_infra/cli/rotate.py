"""``btp-infra rotate --stack S [--key K] [--no-up] [--yes]``: rotate a tenant's operator-access binding
(:mod:`btp_infra.operations.rotate`): the key goes into the stack file, then ``up`` applies it."""

from __future__ import annotations

import re
import sys
from datetime import timedelta

import click

from btp_infra.cli._app import main
from btp_infra.conventions import CONFIG_CREDENTIAL_ROTATION


@main.command("rotate")
@click.option("--stack", required=True, metavar="STACK", help="The tenant stack whose binding to rotate.")
@click.option(
    "--key",
    metavar="KEY",
    help="The rotation key (btp-infra:credentialRotation): letters, digits, '.', '_', '-', at most 20; "
    "default the UTC time, e.g. 20261202T023808Z. Refused when it is the current key.",
)
@click.option(
    "--no-up",
    "no_up",
    is_flag=True,
    help="Only write the key into the stack file (commit it and let the deploy workflow apply it).",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation before running up.")
@click.option(
    "--if-expiring-within",
    "window",
    metavar="DAYS",
    callback=lambda _ctx, _param, value: _days(value),
    help="Scheduled rotation of x509 credentials: rotate only when the certificate in the live operator "
    "Secret expires within DAYS (e.g. 7 or 7d), or has expired; otherwise say so and exit 0.",
)
def rotate_command(stack: str, key: str | None, no_up: bool, yes: bool, window: timedelta | None) -> None:
    """Replace the tenant's operator-access binding without a gap.

    Sets btp-infra:credentialRotation in the stack file, then runs `up` for the stack as `btp-infra up`
    does: a new binding is created (its credentials must obtain a token), the operator Secret is updated in
    place with them, and the old binding is deleted last. Interrupted, `btp-infra up --stack STACK` (or
    another rotate) finishes it; no binding is left behind. Exit code 0: rotated (or, with --no-up, the key
    written; with --if-expiring-within, also: not due); 1: the up failed (the key stays written: re-run
    `btp-infra up`) or the operator Secret could not be read; 2: refused, nothing changed.
    """
    from rich.console import Console

    from btp_infra.config import ConfigError, load_stack_file, stack_file_for
    from btp_infra.operations.rotate import default_key, rotate

    key = key or default_key()
    if window is not None and not _due(stack, window):
        return
    if not no_up and not yes:
        path = stack_file_for(stack)
        try:
            current = load_stack_file(path).binding_name
        except (ConfigError, OSError) as err:  # reported by rotate() below, one line per issue
            current = None
            if isinstance(err, OSError):
                click.echo(f"error: {path}: cannot be read ({err.strerror or err})", err=True)
                sys.exit(2)
        prompt = f"replace the operator binding of stack {stack}" + (f" ({current})" if current else "")
        try:
            confirmed = click.confirm(prompt + f" with a new one (key {key}) and run up?", err=True)
        except click.Abort:
            confirmed = False
        if not confirmed:
            click.echo("not rotated: not confirmed", err=True)
            sys.exit(2)
    try:
        change, result = rotate(stack, key=key, run_up=not no_up, console=Console(highlight=False))
    except ConfigError as err:
        for line in str(err).splitlines():
            click.echo(f"error: {line}", err=True)
        sys.exit(2)
    written = f"{CONFIG_CREDENTIAL_ROTATION}: {change.key}"
    click.echo(f"wrote {change.path}: {written} (binding {change.new_binding})")
    if result is None:
        click.echo(f"apply it with: btp-infra up --stack {stack} (or commit it for the deploy workflow)")
        return
    if result.exit_code != 0:
        click.echo(
            f"the rotation is not finished: the key is written; re-run `btp-infra up --stack {stack}` "
            "(the old binding is deleted once the Secret holds the new credentials)",
            err=True,
        )
    sys.exit(result.exit_code)


def _days(value: str | None) -> timedelta | None:
    """``7`` or ``7d`` (1 to 3650 days) as a timedelta; a usage error otherwise."""
    if value is None:
        return None
    match = re.fullmatch(r"([0-9]{1,4})d?", value.strip())
    if not match or not 1 <= int(match.group(1)) <= 3650:
        raise click.BadParameter(f"{value!r} is not a number of days from 1 to 3650 (e.g. 7 or 7d)")
    return timedelta(days=int(match.group(1)))


def _due(stack: str, window: timedelta) -> bool:
    """Whether the stack's x509 certificate is inside the window; prints why not (exit 0) or fails (exit 1:
    the stack file or the cluster cannot be read)."""
    from btp_infra.config import ConfigError, load_stack_file, stack_file_for
    from btp_infra.kube import KubeError
    from btp_infra.operations.rotate import rotation_due

    try:
        config = load_stack_file(stack_file_for(stack))
        due = rotation_due(config, within=window)
    except ConfigError as err:
        for line in str(err).splitlines():
            click.echo(f"error: {line}", err=True)
        sys.exit(2)
    except KubeError as err:
        click.echo(f"error: stack {stack}: cannot read the operator Secret: {err}", err=True)
        sys.exit(1)
    if not due.due:
        click.echo(f"not rotated: stack {stack}: {due.reason}")
    else:
        click.echo(f"rotation due: stack {stack}: {due.reason}")
    return due.due

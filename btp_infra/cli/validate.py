"""``btp-infra validate``: every stack file and the cross-stack rules, offline (:mod:`btp_infra.tenants`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from btp_infra.cli._app import main


@main.command("validate")
@click.option(
    "--stacks-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default="stackConfigDir of ./Pulumi.yaml",
    help="The stacks directory, or a project directory whose Pulumi.yaml sets stackConfigDir.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="github: one ::error annotation per problem, on its line (paths relative to "
    "$GITHUB_WORKSPACE, else the current directory).",
)
def validate(stacks_dir: Path, fmt: str) -> None:
    """Check every stack file and the cross-stack rules, offline. Exit code 1 on any finding."""
    from btp_infra.config import ConfigError, stack_file_for
    from btp_infra.tenants import format_report
    from btp_infra.tenants import validate as validate_stacks

    directory = stack_file_for("-", stacks_dir).parent  # the summary names the stacks directory itself
    try:
        report = validate_stacks(directory)
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
    root = os.environ.get("GITHUB_WORKSPACE") or Path.cwd()
    click.echo(format_report(report, fmt, root=root), nl=False)
    if fmt == "github":
        click.echo(report.summary(), err=True)
    sys.exit(report.exit_code)

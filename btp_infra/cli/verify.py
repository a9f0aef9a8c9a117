"""``btp-infra verify``: read-only checks of live tenants against their stack files
(:mod:`btp_infra.operations.verify`); text, ``--json`` or ``--markdown``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from btp_infra.cli._app import main


def _window(_ctx: click.Context, _param: click.Parameter, value: str) -> object:
    from btp_infra.operations.verify import parse_expiry_window

    try:
        return parse_expiry_window(value)
    except ValueError as err:
        raise click.BadParameter(f"{value!r} {err}") from None


@main.command("verify")
@click.option("--stack", "stacks", multiple=True, metavar="STACK", help="A stack to verify (repeatable).")
@click.option("--all", "all_", is_flag=True, help="Every stack file in the stacks directory.")
@click.option(
    "--expiry-window",
    default="30d",
    show_default=True,
    callback=_window,
    help="Warn when an x509 certificate expires within this (e.g. 30d, 2w, 36h); fail once expired.",
)
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False),
    default=None,
    help="The kubeconfig to use instead of the stack's btp-infra:kubeconfig (the stack's kubeContext "
    "still chooses the context).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (version 1).")
@click.option("--markdown", "as_markdown", is_flag=True, help="Print the report as Markdown (PR comments).")
def verify(
    stacks: tuple[str, ...],
    all_: bool,
    expiry_window: object,
    kubeconfig: str | None,
    as_json: bool,
    as_markdown: bool,
) -> None:
    """Check that live tenants are what their stack files say; reads only, creates nothing.

    Kubernetes: the namespace and its labels, pods started before Istio injection, the operator Secret
    where the placement says (keys, labels) and no Secret the operator would resolve first. The Secret's
    credentials: a token, Service Manager reached, x509 expiry. BTP: entitlements OK, the
    service-operator-access instance and binding ready, and the Secret holding the binding's current
    credentials. Exit code 0: everything passed (warnings allowed); 1: a check failed; 2: bad usage.
    """
    from datetime import timedelta

    from btp_infra.config import discover_stacks, stack_file_for, stack_name_of
    from btp_infra.operations.verify import VerifyOptions, verify_stacks

    if stacks and all_:
        raise click.UsageError("use either --stack or --all, not both")
    if not stacks and not all_:
        raise click.UsageError("select stacks: --stack NAME (repeatable) or --all")
    if as_json and as_markdown:
        raise click.UsageError("use either --json or --markdown, not both")
    project = Path()
    if all_:
        names = [stack_name_of(p) for p in discover_stacks(project)]
    else:
        names = list(stacks)
        missing = [s for s in names if not stack_file_for(s, project).is_file()]
        if missing:
            where = stack_file_for(missing[0], project)
            raise click.UsageError(
                f"no stack file for {', '.join(missing)} ({where} does not exist); valid: the name of a "
                f"Pulumi.<stack>.yaml in {where.parent}"
            )
    assert isinstance(expiry_window, timedelta)
    report = verify_stacks(
        names, project_dir=project, options=VerifyOptions(expiry_window=expiry_window), kubeconfig=kubeconfig
    )
    if as_json:
        click.echo(report.json_text(), nl=False)
    elif as_markdown:
        click.echo(report.markdown())
    else:
        click.echo(report.text(), nl=False)
    sys.exit(report.exit_code)

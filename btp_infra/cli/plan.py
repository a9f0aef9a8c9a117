"""``btp-infra plan``: every tenant stack checked offline (:mod:`btp_infra.offline`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from btp_infra.cli._app import main


@main.command()
@click.option(
    "--stack", "stacks", multiple=True, metavar="STACK", help="A stack to plan (repeatable): name or file."
)
@click.option(
    "--all", "all_stacks", is_flag=True, help="Plan every stack in the stacks directory (the default)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report (schema: docs/plan-json.md).")
@click.option(
    "--policy-config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Policy pack config JSON, as for pulumi --policy-pack-config.",
)
@click.option(
    "--stacks-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the Pulumi.<stack>.yaml files are (default: stackConfigDir of ./Pulumi.yaml).",
)
def plan(
    stacks: tuple[str, ...],
    all_stacks: bool,
    as_json: bool,
    policy_config: Path | None,
    stacks_dir: Path | None,
) -> None:
    """Check tenant stacks offline: render each under Pulumi mocks and run the policy pack.

    No Pulumi CLI, cloud or credentials needed. Exit code 0: clean (advisories allowed); 1: a mandatory
    violation, an invalid stack config or a render error; 2: usage error.
    """
    from btp_infra.offline import runner as planning

    try:
        config = planning.read_policy_config(policy_config)
        paths = planning.select_stacks(
            stacks_dir or planning.default_stacks_dir(), stacks, all_stacks=all_stacks
        )
        report, scrub = planning.run_plan(paths, policy_config=config)
    except planning.UsageError as err:
        raise click.UsageError(str(err)) from None
    output = planning.format_json(report, scrub) if as_json else planning.format_text(report, scrub)
    click.echo(output, nl=False)
    sys.exit(report.exit_code)

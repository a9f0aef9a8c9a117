"""``btp-infra try``: one tenant through the real Pulumi engine against the local sandbox
(:mod:`btp_infra.tryout`)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from btp_infra.cli._app import main

EXAMPLE = Path("examples") / "stacks" / "Pulumi.example.yaml"


class _TryError(click.ClickException):
    """The try-out cannot start (no Pulumi CLI, no sandbox extra, a bad stack file): one line, exit 2."""

    exit_code = 2


def _stack_file(stack: str | None, project_dir: Path) -> Path:
    if stack is None:
        return project_dir / EXAMPLE
    candidate = Path(stack)
    if candidate.suffix in {".yaml", ".yml"}:
        return candidate
    from btp_infra.config import stack_file_for

    return stack_file_for(stack, project_dir)


@main.command("try")
@click.option(
    "--stack",
    metavar="STACK",
    help="A tenant stack (name or file) to try; default: examples/stacks/Pulumi.example.yaml.",
)
@click.option(
    "--out",
    "out_root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out"),
    show_default=True,
    help="Where the Kubernetes objects are written (as <out>/<stack>/…).",
)
def try_command(stack: str | None, out_root: Path) -> None:
    """Run one tenant end to end with no BTP account and no cluster.

    Starts the local BTP sandbox seeded with the tenant's subaccount, runs `pulumi up` through the real
    engine on a throwaway local backend, and writes the Kubernetes objects (namespace, operator Secret,
    guardrails) to OUT/<stack>/ instead of applying them; then lists them, Secret values redacted. Needs the
    Pulumi CLI and the `[sandbox]` extra. Exit 2 when it cannot start.
    """
    from rich.console import Console

    from btp_infra import tryout
    from btp_infra.automation import FleetSetupError, find_pulumi_cli, run_fleet
    from btp_infra.config import ConfigError

    project_dir = Path.cwd()
    stack_file = _stack_file(stack, project_dir)
    try:
        find_pulumi_cli(project_dir)  # before anything starts: one line, how to install
    except FleetSetupError as err:
        raise _TryError(str(err)) from None
    try:
        from btp_infra.sandbox import SandboxConfig, SandboxServer, SubaccountSeed
    except ModuleNotFoundError as err:
        raise _TryError(
            f"the sandbox needs its server dependencies: install btp-infra[sandbox] ({err})"
        ) from None

    console = Console(stderr=True)
    with tryout.workspace() as work_dir:
        try:
            name = stack_file.name.removeprefix("Pulumi.").rsplit(".", 1)[0]
            project = tryout.prepare_project(
                stack_file, repo_dir=project_dir, work_dir=work_dir, out_dir=out_root / name
            )
        except (ConfigError, OSError) as err:
            raise _TryError(str(err).splitlines()[0] if str(err) else type(err).__name__) from None
        guid, region = project.subaccount_id, project.region or "eu10"
        # No seed when the stack creates its subaccount: it creates it in the sandbox.
        seeds = [] if guid is None else [SubaccountSeed(guid=guid, subdomain="try-tenant", region=region)]
        with SandboxServer(SandboxConfig(subaccounts=seeds, tls=True)) as sandbox:
            environ = {
                **os.environ,
                **tryout.tryout_environment(project, json.dumps(sandbox.cis_service_key())),
            }
            console.print(f"sandbox on {sandbox.url}; objects go to {project.out_dir}")
            result = run_fleet(
                "up",
                [project.stack],
                project_dir=project.project_dir,
                yes=True,
                console=console,
                install=False,
                environ=environ,
            )
    for obj in tryout.rendered_objects(project.out_dir):
        click.echo(obj.line())
    sys.exit(result.exit_code)

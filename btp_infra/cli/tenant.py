"""``btp-infra tenant add | list | show | remove | adopt``: the tenant catalog (:mod:`btp_infra.tenants`);
``adopt`` writes the stack file of a hand-made tenant (:mod:`btp_infra.operations.adopt`).

Thin: parse the options, call the library, print. The backend (``tenant add --init``, the outputs of
``tenant show``, whether ``tenant remove``'s stack still has resources) is reached through the Automation
API with :mod:`btp_infra.automation`'s resolution of the Pulumi CLI, the backend and the passphrase.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from btp_infra.cli._app import main
from btp_infra.conventions import DEFAULT_MANAGEMENT_NAMESPACE

if TYPE_CHECKING:
    from pulumi.automation import LocalWorkspace

_T = TypeVar("_T")
_NON_RESOURCE_TYPES = ("pulumi:pulumi:Stack",)
_PROVIDER_PREFIX = "pulumi:providers:"


@main.group()
def tenant() -> None:
    """The tenant catalog: one stack file (stacks/Pulumi.<stack>.yaml) per tenant."""


def _stacks_dir_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--stacks-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path(),
        show_default="stackConfigDir of ./Pulumi.yaml",
        help="The stacks directory, or a project directory whose Pulumi.yaml sets stackConfigDir.",
    )(func)


def project_dir_for(stacks_dir: Path) -> Path:
    """The Pulumi project of ``stacks_dir``: itself or its parent when that holds ``Pulumi.yaml``, else
    the current directory."""
    for candidate in (stacks_dir, stacks_dir.parent):
        if (candidate / "Pulumi.yaml").is_file() or (candidate / "Pulumi.yml").is_file():
            return candidate
    return Path()


def _parsed(parse: Callable[[], _T]) -> _T:
    try:
        return parse()
    except ValueError as err:
        raise click.ClickException(str(err)) from None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith(("code:", "stdout:", "warning:")):
            return stripped.removeprefix("stderr: ").removeprefix("error: ")[:300]
    return type(exc).__name__


def _workspace(
    project: Path, *, need_passphrase: bool, secrets_provider: str | None = None
) -> LocalWorkspace:
    """A workspace on ``project`` against the configured backend; :class:`FleetSetupError` (one line) when
    there is no usable Pulumi CLI, backend or (with ``need_passphrase``) passphrase."""
    from pulumi.automation import LocalWorkspace

    from btp_infra.automation import FleetSetupError, find_pulumi_cli, resolve_backend, resolve_passphrase

    cli = find_pulumi_cli(project)
    backend = resolve_backend(project)
    try:
        passphrase = resolve_passphrase()
    except FleetSetupError:
        if need_passphrase:
            raise
        passphrase = None
    if passphrase is not None and passphrase.secret_env:
        cli = cli.with_secret_env(passphrase.secret_env)
    return LocalWorkspace(
        work_dir=str(project),
        env_vars=dict(backend.env),
        secrets_provider=secrets_provider,
        pulumi_command=cli,
    )


# ---- add ----------------------------------------------------------------------------------------


def _subaccount_block(
    subaccount_id: str | None,
    create: bool,
    *,
    display_name: str | None,
    subdomain: str | None,
    region: str | None,
    parent_directory: str | None,
    used_for_production: bool | None,
) -> dict[str, object] | None:
    """The ``subaccount`` block of ``--create-subaccount`` (``None`` without it); exactly one of
    ``--subaccount`` and ``--create-subaccount``, and the block's options only with the latter."""
    if subaccount_id is not None and create:
        raise click.UsageError("use either --subaccount GUID or --create-subaccount, not both")
    if not create:
        if subaccount_id is None:
            raise click.UsageError(
                "--subaccount GUID (an existing subaccount) or --create-subaccount (the stack creates one) "
                "is required"
            )
        given = [
            option
            for option, value in (
                ("--display-name", display_name),
                ("--subdomain", subdomain),
                ("--parent-directory", parent_directory),
                ("--used-for-production", used_for_production),
            )
            if value is not None
        ]
        if given:
            raise click.UsageError(f"{', '.join(given)} only with --create-subaccount")
        return None
    missing = [opt for opt, value in (("--display-name", display_name), ("--region", region)) if not value]
    if missing:
        raise click.UsageError(f"--create-subaccount needs {' and '.join(missing)}")
    block: dict[str, object] = {"displayName": display_name, "region": region}
    for key, value in (
        ("subdomain", subdomain),
        ("parentDirectory", parent_directory),
        ("usedForProduction", used_for_production),
    ):
        if value is not None:
            block[key] = value
    return block


@tenant.command("add")
@click.argument("name")
@click.option("--namespace", required=True, help="The tenant's Kubernetes namespace.")
@click.option("--subaccount", "subaccount_id", metavar="GUID", help="An existing BTP subaccount ID.")
@click.option(
    "--create-subaccount",
    is_flag=True,
    help="The stack creates (and on destroy deletes) its own subaccount: --display-name and --region.",
)
@click.option("--display-name", help="The display name of the subaccount to create.")
@click.option("--subdomain", help="The subdomain of the subaccount to create (default <prefix>-<namespace>).")
@click.option("--subdomain-prefix", help="The organisation prefix of the default subdomain.")
@click.option("--parent-directory", metavar="GUID", help="The directory to create the subaccount in.")
@click.option(
    "--used-for-production", is_flag=True, default=None, help="Mark the created subaccount for production."
)
@click.option("--stack", help="The stack name (default: NAME).")
@click.option("--kube-context", help="The kubeconfig context of the Kyma cluster.")
@click.option("--region", help="The BTP region (eu10, us20, ...).")
@click.option("--credential-type", help="The service binding's credential type (e.g. x509).")
@click.option("--x509", "x509", multiple=True, metavar="KEY=VALUE", help="An x509 setting (repeatable).")
@click.option(
    "--secret-placement",
    help="Where the operator Secret goes (namespace: in the tenant namespace, or management).",
)
@click.option("--management-namespace", help="The management namespace (secret placement management).")
@click.option(
    "--entitlement",
    "entitlements",
    multiple=True,
    metavar="SERVICE/PLAN[=AMOUNT]",
    help="An entitlement (repeatable).",
)
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE", help="A namespace label (repeatable).")
@click.option(
    "--quota", "quota", multiple=True, metavar="KEY=VALUE", help="A ResourceQuota entry (repeatable)."
)
@click.option(
    "--limit-range",
    "limit_range",
    multiple=True,
    metavar="SECTION.RESOURCE=QUANTITY",
    help="A LimitRange entry, e.g. default.cpu=500m (repeatable).",
)
@click.option("--network-policy", help="The network policy baseline (default-deny, none).")
@click.option("--mtls/--no-mtls", default=None, help="Require mTLS in the namespace.")
@click.option("--protect/--no-protect", default=None, help="Protect the tenant's resources from deletion.")
@click.option("--take-ownership", is_flag=True, default=None, help="Adopt existing objects.")
@click.option("--kubeconfig", metavar="PATH", help="A kubeconfig file (a path, never its content).")
@click.option("--cluster-identifier", help="The cluster identity (default: the kube context).")
@click.option("--keyring-profile", help="The keyring profile of the cis service key.")
@click.option("--timeout", "timeouts", multiple=True, metavar="KEY=DURATION", help="A timeout (repeatable).")
@_stacks_dir_option
@click.option("--init", "init", is_flag=True, help="Also create the stack in the configured backend.")
def tenant_add(
    name: str,
    namespace: str,
    subaccount_id: str | None,
    create_subaccount: bool,
    display_name: str | None,
    subdomain: str | None,
    subdomain_prefix: str | None,
    parent_directory: str | None,
    used_for_production: bool | None,
    stack: str | None,
    kube_context: str | None,
    region: str | None,
    credential_type: str | None,
    x509: tuple[str, ...],
    secret_placement: str | None,
    management_namespace: str | None,
    entitlements: tuple[str, ...],
    labels: tuple[str, ...],
    quota: tuple[str, ...],
    limit_range: tuple[str, ...],
    network_policy: str | None,
    mtls: bool | None,
    protect: bool | None,
    take_ownership: bool | None,
    kubeconfig: str | None,
    cluster_identifier: str | None,
    keyring_profile: str | None,
    timeouts: tuple[str, ...],
    stacks_dir: Path,
    init: bool,
) -> None:
    """Write a validated, commented stack file for tenant NAME (nothing is written on any problem)."""
    from btp_infra.tenants import (
        TenantError,
        add_tenant,
        parse_entitlement,
        parse_limit_range,
        parse_pairs,
        parse_x509,
    )

    created = _subaccount_block(
        subaccount_id,
        create_subaccount,
        display_name=display_name,
        subdomain=subdomain,
        region=region,
        parent_directory=parent_directory,
        used_for_production=used_for_production,
    )
    try:
        path = add_tenant(
            name,
            namespace=namespace,
            subaccount_id=subaccount_id,
            subaccount=created,
            subdomain_prefix=subdomain_prefix,
            stacks_dir=stacks_dir,
            stack=stack,
            kube_context=kube_context,
            region=None if created is not None else region,
            credential_type=credential_type,
            x509=_parsed(lambda: parse_x509(x509)) if x509 else None,
            secret_placement=secret_placement,
            management_namespace=management_namespace,
            entitlements=[_parsed(partial(parse_entitlement, e)) for e in entitlements] or None,
            labels=_parsed(lambda: parse_pairs(labels, option="--label")) if labels else None,
            quota=_parsed(lambda: parse_pairs(quota, option="--quota")) if quota else None,
            limit_range=_parsed(lambda: parse_limit_range(limit_range, option="--limit-range"))
            if limit_range
            else None,
            network_policy=network_policy,
            mtls=mtls,
            protect=protect,
            take_ownership=take_ownership,
            kubeconfig=kubeconfig,
            cluster_identifier=cluster_identifier,
            keyring_profile=keyring_profile,
            timeouts=_parsed(lambda: parse_pairs(timeouts, option="--timeout")) if timeouts else None,
        )
    except TenantError as err:
        raise click.ClickException(str(err)) from None
    stack_name = stack or name
    click.echo(f"wrote {path} (stack {stack_name!r})")
    if init:
        _init_stack(stack_name, path, project_dir_for(stacks_dir))
    else:
        click.echo(f"create the stack with: btp-infra up --stack {stack_name}")


def _init_stack(stack: str, path: Path, project: Path) -> None:
    """Create ``stack`` in the configured backend (``pulumi stack init`` through the Automation API)."""
    from pulumi.automation import Stack
    from pulumi.automation.errors import CommandError, StackAlreadyExistsError

    from btp_infra.automation import FleetSetupError, resolve_targets
    from btp_infra.automation.environment import PASSPHRASE_PROVIDER

    later = f"{path} is kept; create the stack later with: btp-infra up --stack {stack}"
    try:
        target = resolve_targets([stack], project)[0]
        workspace = _workspace(
            project,
            need_passphrase=target.secrets_provider == PASSPHRASE_PROVIDER,
            secrets_provider=target.secrets_provider,
        )
    except FleetSetupError as err:
        click.echo(f"error: {err}; {later}", err=True)
        sys.exit(err.exit_code)
    try:
        Stack.create(stack, workspace)
    except StackAlreadyExistsError:
        click.echo(f"stack {stack!r} already exists in the backend (kept as it is)")
        return
    except (CommandError, OSError) as err:
        click.echo(f"error: pulumi stack init {stack} failed: {_one_line(err)}; {later}", err=True)
        sys.exit(1)
    click.echo(f"created stack {stack!r} in the backend")


# ---- list and show ------------------------------------------------------------------------------


@tenant.command("list")
@_stacks_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def tenant_list(stacks_dir: Path, as_json: bool) -> None:
    """One row per stack file (an invalid file shows its first problem)."""
    from btp_infra.config import stack_file_for
    from btp_infra.tenants import TenantRow, list_tenants

    directory = stack_file_for("-", stacks_dir).parent
    if not directory.is_dir():  # a typo must not look like an empty catalog
        raise click.ClickException(f"{directory}: is not a directory; valid: an existing stacks directory")
    rows = list_tenants(stacks_dir)
    if as_json:
        click.echo(json.dumps([row.as_dict() for row in rows], indent=2))
        return
    if not rows:
        click.echo(f"no tenant stacks in {stacks_dir}")
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(soft_wrap=False, highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 200)
    table = Table(title=f"tenants ({len(rows)})", title_justify="left")
    for column in TenantRow.COLUMNS:
        table.add_column(column, no_wrap=column != "namespace", overflow="fold")
    for row in rows:
        table.add_row(*row.cells(), style="red" if row.error else None)
    console.print(table)


def _outputs(stack: str, project: Path) -> tuple[dict[str, object] | None, str | None]:
    """The stack's outputs from the backend (secrets stay ``[secret]``: no ``--show-secrets``), or None and
    the one-line reason they are not available."""
    from pulumi.automation import Stack
    from pulumi.automation.errors import CommandError, StackNotFoundError

    from btp_infra.automation import FleetSetupError

    try:
        workspace = _workspace(project, need_passphrase=False)
        Stack.select(stack, workspace)
        result = workspace.pulumi_command.run(
            ["stack", "output", "--json", "--stack", stack], workspace.work_dir, dict(workspace.env_vars)
        )
    except StackNotFoundError:
        return None, f"stack {stack!r} is not in the backend yet (btp-infra up --stack {stack})"
    except FleetSetupError as err:
        return None, str(err)
    except (CommandError, OSError) as err:
        return None, f"the backend did not answer: {_one_line(err)}"
    try:
        outputs = json.loads(result.stdout or "{}")
    except json.JSONDecodeError:
        return None, "`pulumi stack output --json` did not print JSON"
    if not isinstance(outputs, dict):
        return None, "`pulumi stack output --json` did not print a JSON object"
    return outputs, None


@tenant.command("show")
@click.argument("name")
@_stacks_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the config (and outputs) as JSON.")
def tenant_show(name: str, stacks_dir: Path, as_json: bool) -> None:
    """Tenant NAME's config (secrets redacted) and, when a backend is reachable, its stack outputs."""
    from btp_infra.tenants import TenantError, show_tenant

    try:
        shown = show_tenant(name, stacks_dir)
    except TenantError as err:
        raise click.ClickException(str(err)) from None
    outputs, reason = _outputs(str(shown["stack"]), project_dir_for(stacks_dir))
    if as_json:
        click.echo(json.dumps({**shown, "outputs": outputs, "outputsUnavailable": reason}, indent=2))
        return
    click.echo(f"stack: {shown['stack']}")
    click.echo(f"file: {shown['file']}")
    click.echo("config:")
    config = shown["config"]
    if isinstance(config, dict):
        for key, value in config.items():
            click.echo(f"  {key}: {json.dumps(value)}")
    if outputs is None:
        click.echo(f"outputs: unavailable ({reason})")
    else:
        click.echo("outputs:" + ("" if outputs else " none"))
        for key, value in outputs.items():
            click.echo(f"  {key}: {json.dumps(value)}")


# ---- remove -------------------------------------------------------------------------------------


def _resource_count(workspace: LocalWorkspace, stack: str) -> int:
    """Resources in the stack's state other than the stack itself and providers (``pulumi stack export``
    without ``--show-secrets``); 0 when the stack is not in the backend."""
    from pulumi.automation import Stack
    from pulumi.automation.errors import StackNotFoundError

    try:
        Stack.select(stack, workspace)
    except StackNotFoundError:
        return 0
    result = workspace.pulumi_command.run(
        ["stack", "export", "--stack", stack], workspace.work_dir, dict(workspace.env_vars)
    )
    try:
        document = json.loads(result.stdout or "{}")
    except json.JSONDecodeError:
        raise RuntimeError("`pulumi stack export` did not print JSON") from None
    deployment = document.get("deployment") if isinstance(document, dict) else None
    resources = deployment.get("resources") if isinstance(deployment, dict) else None
    if not isinstance(resources, list):
        return 0
    return sum(
        1
        for r in resources
        if isinstance(r, dict)
        and str(r.get("type", "")) not in _NON_RESOURCE_TYPES
        and not str(r.get("type", "")).startswith(_PROVIDER_PREFIX)
    )


@tenant.command("remove")
@click.argument("name")
@_stacks_dir_option
@click.option("--force", is_flag=True, help="Remove the file even if the stack has (or may have) resources.")
def tenant_remove(name: str, stacks_dir: Path, force: bool) -> None:
    """Delete tenant NAME's stack file only (not the backend stack, not a cloud object).

    Refused while the stack still has resources in the backend, or when no backend can be asked, unless
    --force."""
    from btp_infra.automation import FleetSetupError
    from btp_infra.tenants import TenantError, remove_tenant

    has_resources: Callable[[str], bool] | None = None
    unreachable: str | None = None
    if not force:
        try:
            workspace = _workspace(project_dir_for(stacks_dir), need_passphrase=False)
        except FleetSetupError as err:
            unreachable = str(err)
        else:

            def has_resources(stack: str) -> bool:
                try:
                    return _resource_count(workspace, stack) > 0
                except Exception as exc:  # the backend's failure, in one line
                    raise RuntimeError(_one_line(exc)) from None

    try:
        path = remove_tenant(name, stacks_dir, has_resources=has_resources, force=force)
    except TenantError as err:
        suffix = f" [backend not asked: {unreachable}]" if unreachable else ""
        raise click.ClickException(f"{err}{suffix}") from None
    click.echo(f"removed {path} (the backend stack, if any, is untouched)")


# ---- adopt --------------------------------------------------------------------------------------


@tenant.command("adopt")
@click.argument("name")
@click.option("--namespace", required=True, help="The hand-made tenant's Kubernetes namespace.")
@click.option("--subaccount", "subaccount_id", required=True, metavar="GUID", help="Its BTP subaccount ID.")
@click.option("--stack", help="The stack name (default: NAME).")
@click.option(
    "--secret-placement",
    type=click.Choice(["namespace", "management"]),
    default="namespace",
    show_default=True,
    help="Where the hand-made operator Secret is (namespace: in the tenant namespace; management: "
    "<namespace>-sap-btp-service-operator in the management namespace).",
)
@click.option(
    "--management-namespace",
    default=DEFAULT_MANAGEMENT_NAMESPACE,
    show_default=True,
    help="The management namespace.",
)
@click.option(
    "--kube-context", help="The kubeconfig context of the cluster (to read the namespace and Secret)."
)
@click.option("--kubeconfig", metavar="PATH", help="A kubeconfig file (default $KUBECONFIG, ~/.kube/config).")
@click.option("--keyring-profile", help="The keyring profile of the cis service key.")
@click.option("--instance-id", metavar="GUID", help="The operator-access instance, when there are several.")
@click.option("--binding-id", metavar="GUID", help="The binding, when the Secret cannot tell.")
@click.option(
    "--entitlement",
    "entitlements",
    multiple=True,
    metavar="SERVICE/PLAN",
    help="An entitlement the subaccount has that the stack is to manage (repeatable; kept on destroy).",
)
@_stacks_dir_option
@click.option("--dry-run", is_flag=True, help="Discover and print the plan; write nothing.")
@click.option(
    "--run", "run_up", is_flag=True, help="Then preview and, if it deletes nothing, up (Automation API)."
)
@click.option("--json", "as_json", is_flag=True, help="Print what was found as JSON (no credential, ever).")
def tenant_adopt(
    name: str,
    namespace: str,
    subaccount_id: str,
    stack: str | None,
    secret_placement: str,
    management_namespace: str,
    kube_context: str | None,
    kubeconfig: str | None,
    keyring_profile: str | None,
    instance_id: str | None,
    binding_id: str | None,
    entitlements: tuple[str, ...],
    stacks_dir: Path,
    dry_run: bool,
    run_up: bool,
    as_json: bool,
) -> None:
    """Bring tenant NAME, set up by hand, under management: find its operator-access instance and binding,
    namespace and Secret, write a stack file whose btp-infra:adopt block takes them over (nothing is
    re-created or interrupted), and print the exact next steps (or, with --run, run them)."""
    from btp_infra.btp.errors import BtpError
    from btp_infra.config import ConfigError, stack_file_for
    from btp_infra.credentials import CredentialsError, resolve_cis_service_key
    from btp_infra.kube import KubeClient, KubeError
    from btp_infra.operations.adopt import AdoptError, discover, next_steps, write_stack_file
    from btp_infra.tenants import TenantError, parse_entitlement

    stack_name = stack or name
    plans = []
    for text in entitlements:
        entry = _parsed(partial(parse_entitlement, text))
        plans.append((str(entry["service"]), str(entry["plan"])))
    if dry_run and run_up:
        raise click.UsageError("use either --dry-run or --run, not both")
    target = stack_file_for(stack_name, stacks_dir)
    if target.exists() and not dry_run:  # before any API call
        raise click.ClickException(
            f"{target}: exists; valid: a tenant without a stack file (btp-infra tenant show {stack_name})"
        )
    try:
        key = resolve_cis_service_key(keyring_profile=keyring_profile).key
        cluster = KubeClient.from_kubeconfig(kubeconfig, kube_context) if kube_context else None
        try:
            plan = discover(
                key,
                namespace=namespace,
                subaccount_id=subaccount_id,
                placement="management" if secret_placement == "management" else "namespace",
                management_namespace=management_namespace,
                cluster=cluster,
                instance_id=instance_id,
                binding_id=binding_id,
                plans=plans,
            )
        finally:
            if cluster is not None:
                cluster.close()
        path = None
        if not dry_run:
            path = write_stack_file(
                name,
                plan,
                stacks_dir=stacks_dir,
                stack=stack,
                kube_context=kube_context,
                kubeconfig=kubeconfig,
                keyring_profile=keyring_profile,
            )
    except (AdoptError, ConfigError, TenantError) as err:
        raise click.ClickException(str(err)) from None
    except (BtpError, KubeError, CredentialsError) as err:
        raise click.ClickException(_one_line(err)) from None
    if as_json:
        click.echo(json.dumps({**plan.as_dict(), "file": str(path) if path else None}, indent=2))
    else:
        for note in plan.notes:
            click.echo(f"note: {note}")
        for line in next_steps(plan, stack_name, path):
            click.echo(line)
    if run_up:
        _adopt_run(stack_name)


def _adopt_run(stack: str) -> None:
    """``preview`` then, when it deletes or replaces nothing, ``up`` — as ``btp-infra up`` runs them."""
    from rich.console import Console

    from btp_infra.automation import run_fleet

    console = Console(stderr=True, highlight=False)
    preview = run_fleet("preview", [stack], project_dir=Path(), console=console)
    outcome = preview.stacks[0] if preview.stacks else None
    if outcome is None or not outcome.ok:
        click.echo(f"error: the preview of {stack} failed; nothing was changed", err=True)
        sys.exit(preview.exit_code or 1)
    destructive = {k: outcome.count(k) for k in ("delete", "replace") if outcome.count(k)}
    if destructive:
        shown = ", ".join(f"{n} {k}" for k, n in destructive.items())
        click.echo(
            f"error: the preview of {stack} shows {shown}; not running up (adopting deletes nothing)",
            err=True,
        )
        sys.exit(1)
    result = run_fleet("up", [stack], project_dir=Path(), console=console)
    sys.exit(result.exit_code)

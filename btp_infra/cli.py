"""``btp-infra``: the command line. Thin: parse, call the layers, print."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from btp_infra import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="btp-infra")
def main() -> None:
    """Declarative SAP BTP subaccount ↔ Kyma namespace provisioning (one tenant = one Pulumi stack)."""


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


@main.group()
def sandbox() -> None:
    """The local BTP emulator: Accounts, Entitlements, Service Manager and OAuth on 127.0.0.1."""


class _ServeError(click.ClickException):
    """A sandbox that cannot start: one line, exit code 2 (like a usage error), no traceback."""

    exit_code = 2


def _check_guids(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    from btp_infra.conventions import GUID_RE

    for value in values:
        if not GUID_RE.fullmatch(value):
            shown = value if len(value) <= 60 else value[:57] + "..."
            raise _ServeError(
                f"--subaccount: {shown!r} is not a subaccount GUID; valid: 8-4-4-4-12 hex digits, e.g. "
                "553bcbbb-e809-450f-82db-60de3ef76b1f"
            )
    guids = tuple(value.lower() for value in values)
    if len(set(guids)) != len(guids):
        raise _ServeError("--subaccount: the same GUID is given twice; valid: distinct GUIDs")
    return guids


@sandbox.command("serve")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="0 = any free port."
)
@click.option(
    "--subaccount",
    "subaccounts",
    multiple=True,
    metavar="GUID",
    callback=_check_guids,
    help="Seed a subaccount with this GUID (repeatable; default: two sample subaccounts).",
)
@click.option(
    "--key-out",
    type=click.Path(path_type=Path),  # checked when opened: one line, exit 2
    help="Write the cis service key here (mode 0600; not through a symlink) instead of printing it.",
)
@click.option(
    "--tls/--no-tls",
    default=True,
    show_default=True,
    help="Also serve the x509 (mTLS) token endpoint, so x509 bindings work.",
)
def sandbox_serve(port: int, subaccounts: tuple[str, ...], key_out: Path | None, tls: bool) -> None:
    """Start the emulator on 127.0.0.1 and print a matching cis service key (JSON).

    Point btp-infra at it with BTP_CIS_SERVICE_KEY_FILE=<key file>; no other change is needed. The seeded
    subaccount GUIDs are printed to stderr. Stops on Ctrl-C, SIGTERM or SIGHUP and removes its temporary CA
    and TLS key files. Exit code 2: it cannot start (port in use, key file not writable).
    """
    from btp_infra import sandbox as emulator

    try:
        serve = emulator.serve
    except ModuleNotFoundError as err:  # no `sandbox` extra: one line, not a traceback
        raise _ServeError(str(err)) from None
    from btp_infra.sandbox.server import KeyFileError

    try:
        serve(port=port, subaccounts=subaccounts, key_out=key_out, tls=tls)
    except KeyFileError as err:
        raise _ServeError(f"--key-out: {err.strerror or err}") from None
    except OSError as err:  # e.g. the port is in use
        raise _ServeError(f"cannot start the sandbox on 127.0.0.1:{port}: {err.strerror or err}") from None
    except RuntimeError as err:  # a listener did not come up
        raise _ServeError(f"cannot start the sandbox: {err}") from None


@main.group()
def credentials() -> None:
    """The cis service key in the system keyring (profiles), so it never sits in files or shell history."""


def _read_key_input(key_file: str) -> tuple[bytes, str]:
    """The bytes of ``--file`` (a regular file, or ``-`` = stdin) and its name for messages; at most
    64 KiB (:data:`btp_infra.limits.MAX_KEY_BYTES`), so a FIFO, a device or an endless stdin cannot block or
    exhaust memory. UTF-8 is checked by the key parser."""
    from btp_infra.limits import MAX_KEY_BYTES, InputLimitError, format_size, read_regular_file, read_stream

    name = "stdin" if key_file == "-" else key_file
    valid = f"the key's JSON file: a regular file or stdin, at most {format_size(MAX_KEY_BYTES)}"
    try:
        if key_file == "-":
            return read_stream(sys.stdin.buffer, limit=MAX_KEY_BYTES), name
        return read_regular_file(key_file, limit=MAX_KEY_BYTES), name
    except InputLimitError as err:
        raise click.ClickException(f"{name}: {err}; valid: {valid}") from None
    except OSError as err:
        raise click.ClickException(f"{name}: cannot be read ({err.strerror or type(err).__name__})") from None


@credentials.command("set")
@click.argument("profile")
@click.option(
    "--file",
    "key_file",
    type=click.Path(allow_dash=True),
    default="-",
    show_default=True,
    help="The cis service key JSON as downloaded from the BTP cockpit ('-' = stdin).",
)
def credentials_set(profile: str, key_file: str) -> None:
    """Validate a cis service key and store it in the keyring under PROFILE."""
    from btp_infra.btp.errors import ServiceKeyError
    from btp_infra.credentials import CredentialsError, store_in_keyring

    data, name = _read_key_input(key_file)
    try:
        key = store_in_keyring(profile, data)
    except ServiceKeyError as err:  # name the file the key came from, too
        raise click.ClickException(f"{name}: {err}") from None
    except CredentialsError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"stored the cis service key of client {key.uaa.clientid} as keyring profile {profile!r}")
    click.echo(f"use it with: pulumi config set btp-infra:keyringProfile {profile}")


@credentials.command("delete")
@click.argument("profile")
def credentials_delete(profile: str) -> None:
    """Remove PROFILE from the keyring."""
    from btp_infra.credentials import CredentialsError, delete_from_keyring

    try:
        deleted = delete_from_keyring(profile)
    except CredentialsError as err:
        raise click.ClickException(str(err)) from None
    if not deleted:
        raise click.ClickException(f"no keyring profile {profile!r}")
    click.echo(f"deleted keyring profile {profile!r}")


@credentials.command("which")
@click.option("--profile", help="Keyring profile to consider (as btp-infra:keyringProfile would).")
def credentials_which(profile: str | None) -> None:
    """Show which source the cis service key would come from (never the key itself)."""
    from btp_infra.btp.errors import ServiceKeyError
    from btp_infra.credentials import CredentialsError, resolve_cis_service_key

    try:
        resolved = resolve_cis_service_key(keyring_profile=profile)
    except (ServiceKeyError, CredentialsError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"{resolved.source}: client {resolved.key.uaa.clientid}")


if __name__ == "__main__":  # pragma: no cover
    main()

"""``btp-infra login | logout | whoami`` and ``btp-infra credentials set|delete|which|test``: the cis service
key in the OS keyring (:mod:`btp_infra.credentials`), checked for real (:mod:`btp_infra.login`). Nothing here
prints key material: sources, client ids, token endpoints and global account names only."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from btp_infra.cli._app import main

if TYPE_CHECKING:
    from btp_infra.credentials import ResolvedCisKey
    from btp_infra.login import VerifiedKey

DEFAULT_PROFILE = "default"


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


def _global_account(verified_or_info: VerifiedKey | ResolvedCisKey) -> str:
    info = verified_or_info.info
    if info is None:
        return "global account unknown (the key names no uaa.identityzone/tenantid)"
    name = info.subdomain or "?"
    guid = info.global_account_guid or "?"
    return f"global account {name} ({guid})"


def _verify(resolved: ResolvedCisKey) -> VerifiedKey:
    from btp_infra.login import KeyCheckError, verify_cis_key

    try:
        return verify_cis_key(resolved)
    except KeyCheckError as err:
        raise click.ClickException(str(err)) from None


@main.command()
@click.option(
    "--profile",
    default=DEFAULT_PROFILE,
    show_default=True,
    help="The keyring profile to store the key under (one entry per profile).",
)
@click.option(
    "--service-key-file",
    "key_file",
    type=click.Path(allow_dash=True),
    default="-",
    help="The cis service key JSON as downloaded from the BTP cockpit (default: stdin).",
)
def login(profile: str, key_file: str) -> None:
    """Check a cis service key for real and store it in the OS keyring under PROFILE.

    The key must be of plan central of the global account: a token is fetched and its scopes checked
    (a central-viewer or local key is refused). Then use it with
    `pulumi config set btp-infra:keyringProfile PROFILE` or env BTP_INFRA_KEYRING_PROFILE=PROFILE.
    """
    from btp_infra.btp.errors import ServiceKeyError
    from btp_infra.credentials import (
        CredentialsError,
        check_profile,
        ensure_secure_keyring,
        parse_cis_key,
        store_in_keyring,
    )

    try:
        check_profile(profile, "--profile")
        ensure_secure_keyring(f"keyring btp-infra/{profile}")
    except CredentialsError as err:
        raise click.ClickException(str(err)) from None
    if key_file == "-" and sys.stdin.isatty():
        raise click.UsageError(
            "give the key with --service-key-file cis-key.json or on stdin (btp-infra login < cis-key.json)"
        )
    data, name = _read_key_input(key_file)
    try:
        resolved = parse_cis_key(data, name)
    except ServiceKeyError as err:
        raise click.ClickException(str(err)) from None
    verified = _verify(resolved)
    try:
        store_in_keyring(profile, data)
    except (ServiceKeyError, CredentialsError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(
        f"logged in as client {verified.info.client_id} of {_global_account(verified)} "
        f"(plan central, token from {verified.info.token_url}); stored as keyring profile {profile!r}"
    )
    click.echo(
        f"use it with: pulumi config set btp-infra:keyringProfile {profile}  "
        f"(or env BTP_INFRA_KEYRING_PROFILE={profile})"
    )


@main.command()
@click.option("--profile", default=DEFAULT_PROFILE, show_default=True, help="The keyring profile to remove.")
def logout(profile: str) -> None:
    """Remove PROFILE's cis service key from the OS keyring."""
    from btp_infra.credentials import CredentialsError, delete_from_keyring

    try:
        deleted = delete_from_keyring(profile)
    except CredentialsError as err:
        raise click.ClickException(str(err)) from None
    if not deleted:
        raise click.ClickException(f"no keyring profile {profile!r}: nothing to log out")
    click.echo(f"logged out: removed keyring profile {profile!r}")


@main.command()
@click.option("--profile", default=DEFAULT_PROFILE, show_default=True, help="The keyring profile to show.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def whoami(profile: str, as_json: bool) -> None:
    """Show whose cis key PROFILE holds: global account, token endpoint, client id (nothing secret)."""
    from btp_infra.btp.errors import ServiceKeyError
    from btp_infra.credentials import CredentialsError, from_keyring

    try:
        resolved = from_keyring(profile, "--profile")
    except (ServiceKeyError, CredentialsError) as err:
        raise click.ClickException(str(err).splitlines()[0]) from None
    info = resolved.info
    assert info is not None  # from_keyring always parses with the key's metadata
    if as_json:
        document = {"profile": profile, "keyring": f"btp-infra/{profile}", **info.as_dict()}
        click.echo(json.dumps(document, indent=2))
        return
    plan = f"{info.plan} ({info.service})" if info.service else "? (the key names no sap.cloud.service)"
    rows = [
        ("profile", f"{profile} (keyring btp-infra/{profile})"),
        ("global account", f"{info.subdomain or '?'} ({info.global_account_guid or '?'})"),
        ("token endpoint", info.token_url),
        ("client id", info.client_id),
        ("plan", plan),
    ]
    for label, value in rows:
        click.echo(f"{label + ':':<16}{value}")


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
    """Validate a cis service key offline and store it in the keyring under PROFILE.

    Nothing is fetched: `btp-infra login --profile PROFILE` also checks the key against BTP."""
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


def _stack_file(stack: str, stacks_dir: Path | None) -> Path:
    """The stack file of ``--stack`` (a name in the stacks directory, or a path to a stack file)."""
    from btp_infra.config import stack_file_for, stack_name_of

    path = Path(stack)
    if stack.endswith((".yaml", ".yml")) and path.is_file():
        try:
            stack_name_of(path)
        except ValueError as err:
            raise click.UsageError(str(err)) from None
        return path
    directory = stacks_dir if stacks_dir is not None else stack_file_for("_").parent
    name = stack.rsplit("/", 1)[-1]
    for candidate in (directory / f"Pulumi.{name}.yaml", directory / f"Pulumi.{name}.yml"):
        if candidate.is_file():
            return candidate
    raise click.UsageError(f"no stack file for stack {stack!r} in {directory} (Pulumi.{name}.yaml)")


@credentials.command("test")
@click.option("--stack", help="Resolve as this stack would (its btp-infra:keyringProfile and cisServiceKey).")
@click.option(
    "--stacks-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the Pulumi.<stack>.yaml files are (default: stackConfigDir of ./Pulumi.yaml).",
)
def credentials_test(stack: str | None, stacks_dir: Path | None) -> None:
    """Resolve the cis service key exactly as a stack would and fetch a token with it.

    Order: env BTP_CIS_SERVICE_KEY, env BTP_CIS_SERVICE_KEY_FILE, the stack secret btp-infra:cisServiceKey,
    the keyring profile (the stack's btp-infra:keyringProfile, else env BTP_INFRA_KEYRING_PROFILE). Prints
    the source, never the key."""
    from btp_infra.btp.errors import ServiceKeyError
    from btp_infra.config import ConfigError, load_stack_file
    from btp_infra.credentials import CredentialsError, resolve_cis_service_key, resolve_for_tenant

    if stack is None and stacks_dir is not None:
        raise click.UsageError("--stacks-dir needs --stack")
    try:
        if stack is None:
            resolved = resolve_cis_service_key()
        else:
            resolved = resolve_for_tenant(load_stack_file(_stack_file(stack, stacks_dir)))
    except ConfigError as err:
        raise click.ClickException(f"stack {stack!r}: invalid stack file:\n{err}") from None
    except (ServiceKeyError, CredentialsError) as err:
        raise click.ClickException(str(err)) from None
    verified = _verify(resolved)
    click.echo(f"source: {resolved.source}")
    click.echo(
        f"ok: client {verified.info.client_id} of {_global_account(verified)} got a token from "
        f"{verified.info.token_url} (plan central: the scopes btp-infra needs are there)"
    )

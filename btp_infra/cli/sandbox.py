"""``btp-infra sandbox serve``: the local BTP emulator (:mod:`btp_infra.sandbox`, extra ``[sandbox]``)."""

from __future__ import annotations

from pathlib import Path

import click

from btp_infra.cli._app import main


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

"""The ``btp-infra`` click group; the command modules of :mod:`btp_infra.cli` register on it."""

from __future__ import annotations

import click

from btp_infra import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="btp-infra")
def main() -> None:
    """Declarative SAP BTP subaccount ↔ Kyma namespace provisioning (one tenant = one Pulumi stack)."""

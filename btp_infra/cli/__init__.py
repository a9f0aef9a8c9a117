"""``btp-infra``: the command line. Thin: parse, call the layers, print.

One module per command group: ``plan`` (the offline plan), ``validate``, ``tenant`` (the catalog), ``fleet``
(preview/up/refresh/destroy), ``tryout`` (``try``), ``sandbox`` (the emulator), ``credentials`` (the cis key),
``rotate`` (the operator binding); ``verify`` (read-only checks of live tenants); ``_app`` holds the click
group they register on."""

from __future__ import annotations

from btp_infra.cli import ci, credentials, fleet, plan, rotate, sandbox, tenant, tryout, validate, verify
from btp_infra.cli._app import main

__all__ = [
    "ci",
    "credentials",
    "fleet",
    "main",
    "plan",
    "rotate",
    "sandbox",
    "tenant",
    "tryout",
    "validate",
    "verify",
]

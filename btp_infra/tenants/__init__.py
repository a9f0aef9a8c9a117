"""The tenant catalog and offline validation, as a library (the ``btp-infra tenant`` and ``validate`` commands
call it; it prints nothing and talks to no backend).

- :func:`add_tenant` writes a validated, commented ``stacks/Pulumi.<stack>.yaml`` or refuses with
  :class:`TenantError` and writes nothing; :func:`list_tenants`, :func:`show_tenant`, :func:`remove_tenant`
  — :mod:`.catalog`;
- :func:`validate` checks every stack file and the cross-stack rules; :func:`format_report` renders the
  report as text, JSON or GitHub annotations — :mod:`.validation`;
- :func:`render_stack_file` is the commented text itself — :mod:`.render`;
- :func:`parse_pairs`, :func:`parse_entitlement`, :func:`parse_limit_range`, :func:`parse_x509` turn
  command-line spellings into the structured options — :mod:`.options`.

Only public names of :mod:`btp_infra.config` and :mod:`btp_infra.conventions` are used: the config model
owns every rule, this package only applies them.
"""

from __future__ import annotations

from btp_infra.tenants.catalog import (
    TenantError,
    TenantRow,
    add_tenant,
    list_tenants,
    remove_tenant,
    show_tenant,
    tenant_values,
)
from btp_infra.tenants.options import parse_entitlement, parse_limit_range, parse_pairs, parse_x509
from btp_infra.tenants.render import (
    KEY_COMMENTS,
    STACK_NAME_RE,
    VALID_STACK_NAME,
    WRITABLE_KEYS,
    render_stack_file,
)
from btp_infra.tenants.validation import (
    FORMATS,
    Finding,
    StackResult,
    ValidationReport,
    escape_data,
    escape_property,
    format_github,
    format_json,
    format_report,
    format_text,
    locate,
    validate,
)

__all__ = [
    "FORMATS",
    "KEY_COMMENTS",
    "STACK_NAME_RE",
    "VALID_STACK_NAME",
    "WRITABLE_KEYS",
    "Finding",
    "StackResult",
    "TenantError",
    "TenantRow",
    "ValidationReport",
    "add_tenant",
    "escape_data",
    "escape_property",
    "format_github",
    "format_json",
    "format_report",
    "format_text",
    "list_tenants",
    "locate",
    "parse_entitlement",
    "parse_limit_range",
    "parse_pairs",
    "parse_x509",
    "remove_tenant",
    "render_stack_file",
    "show_tenant",
    "tenant_values",
    "validate",
]

"""The engine form of config: string values keyed ``<namespace>:<key>``, as Pulumi hands them to the program.

Owns: :func:`from_pulumi_config` (validating what the engine passes: JSON text for objects and lists,
``"true"``/``"false"``, secrets decrypted) and the other direction, :func:`engine_values` /
:func:`engine_config`, which turn a stack file into that form for rendering a stack under mocks (as
``btp-infra plan`` does). This package never imports Pulumi.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Final

from btp_infra.config.issues import ConfigIssue
from btp_infra.config.keys import IGNORED_KUBERNETES_KEYS
from btp_infra.config.models import TenantConfig
from btp_infra.config.redaction import is_secure
from btp_infra.config.stackfile import read_stack_yaml
from btp_infra.config.validate import kubernetes_key_issue, validate_target
from btp_infra.conventions import CONFIG_NAMESPACE

ENCRYPTED_PLACEHOLDER: Final = "[encrypted]"
"""Stands in for a ``secure:`` value in :func:`engine_config`: it cannot be decrypted offline."""


def from_pulumi_config(
    values: Mapping[str, str | None], *, source: str, secret_keys: Collection[str] = ()
) -> TenantConfig:
    """Validate config as the Pulumi engine hands it to the program.

    ``values`` maps ``btp-infra:<key>`` (or bare ``<key>``) to the engine's string value: objects and lists as
    JSON text, booleans as ``"true"``/``"false"``, secrets decrypted. None values are skipped; keys of other
    namespaces (``kubernetes:``, ``pulumi:``, …) are ignored here (the offline stack-file check reports
    unexpected ones). ``secret_keys`` (bare or qualified) are never rendered, like ``cisServiceKey``.
    The program can pass ``{k: cfg.get(k) for k in CONFIG_KEYS}`` from ``pulumi.Config("btp-infra")``, or the
    engine's whole config map to also catch misspelt keys. ``source`` is the stack file path for messages.
    """
    data: dict[str, object] = {}
    issues: list[ConfigIssue] = []
    for key, value in values.items():
        if value is None:
            continue
        namespace, sep, name = key.partition(":")
        if not sep:
            name = key
        elif key in IGNORED_KUBERNETES_KEYS:
            issues.append(kubernetes_key_issue(source, key, value))
            continue
        elif namespace != CONFIG_NAMESPACE:
            continue
        data[name] = value
    hidden = {k.partition(":")[2] if ":" in k else k for k in secret_keys}
    return validate_target(data, source=source, hidden=hidden, issues=issues)


def engine_values(config: Mapping[str, Any]) -> dict[str, str]:
    """Stack-file config values in the form the Pulumi engine hands the program: ``<ns>:<key>`` → string.

    Mappings and lists become JSON text, booleans ``"true"``/``"false"``, numbers their JSON text, ``null`` is
    dropped. ``secure:`` values cannot be decrypted offline and become :data:`ENCRYPTED_PLACEHOLDER`.
    """
    values: dict[str, str] = {}
    for key, value in config.items():
        if value is None:
            continue
        if is_secure(value):
            values[str(key)] = ENCRYPTED_PLACEHOLDER
        elif isinstance(value, bool):
            values[str(key)] = "true" if value else "false"
        elif isinstance(value, str):
            values[str(key)] = value
        else:
            values[str(key)] = json.dumps(value, default=str)
    return values


def engine_config(path: str | Path) -> dict[str, str]:
    """:func:`engine_values` of a stack file (every namespace kept, as the engine passes them all).

    Meant for a file :func:`~btp_infra.config.stackfile.load_stack_file` accepted; raises
    :class:`~btp_infra.config.issues.ConfigError` if it cannot be read.
    """
    document = read_stack_yaml(Path(path), str(path))
    config = document.get("config") if isinstance(document, dict) else None
    return engine_values(config if isinstance(config, dict) else {})

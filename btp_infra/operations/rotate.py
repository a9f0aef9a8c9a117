"""``btp-infra rotate``: replace a tenant's operator-access binding through the Pulumi program.

Owns: the default rotation key (:func:`default_key`, the UTC time in compact ISO 8601), the x509 expiry
check of scheduled rotation (:func:`rotation_due`: the certificate in the live operator Secret, read through
the stack's kubeconfig and context, expires within a window), writing
``btp-infra:credentialRotation`` into a stack file (:func:`set_rotation_key`: only that entry of the file
changes, comments and layout stay; the new file is checked with the config model before it replaces the old
one, atomically) and :func:`rotate` (write the key, then ``up`` that stack over the Automation API as
``btp-infra up`` does).

The rotation itself is the program's: the key is part of the binding's Service Manager name
(:func:`btp_infra.conventions.binding_name`), so the binding provider replaces the binding
create-before-delete — the engine creates the new binding (whose create confirms the new credentials obtain
a token), updates the operator Secret in place (``enableSecretMutable``), and deletes the old binding last,
after the dependents (``pkg/resource/deploy/step_generator.go``: ``GenerateDeletes``). State stays the one
source of truth: an interrupted ``up`` leaves the old binding in state pending deletion, and the next ``up``
(or ``rotate``) finishes it — every replaced binding is deleted, never two left.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from btp_infra.config import ConfigError, ConfigIssue, load_stack_file, stack_file_for
from btp_infra.config.grammar import VALID_CREDENTIAL_ROTATION, rotation_key_problem
from btp_infra.config.text import NO_VALUE
from btp_infra.conventions import CONFIG_CREDENTIAL_ROTATION, OPERATOR_SECRET_CERT_KEY

if TYPE_CHECKING:
    from rich.console import Console

    from btp_infra.automation import FleetResult
    from btp_infra.config import TenantConfig
    from btp_infra.kube import KubeClient

__all__ = [
    "KEY_FORMAT",
    "RotationChange",
    "RotationDue",
    "certificate_expiry",
    "default_key",
    "rotate",
    "rotation_due",
    "set_rotation_key",
]

KEY_FORMAT = "%Y%m%dT%H%M%SZ"
"""The default rotation key: the UTC time, compact ISO 8601 (``20261202T023808Z``, 16 characters)."""


@dataclass(frozen=True)
class RotationChange:
    """What :func:`set_rotation_key` wrote: the stack file, the previous key (None: none) and the new one, and
    the binding names before and after."""

    path: Path
    previous: str | None
    key: str
    old_binding: str
    new_binding: str


def default_key(now: datetime | None = None) -> str:
    """The rotation key for ``now`` (default: the current UTC time), e.g. ``20261202T023808Z``."""
    return (now or datetime.now(UTC)).astimezone(UTC).strftime(KEY_FORMAT)


@dataclass(frozen=True)
class RotationDue:
    """Whether a stack's operator credentials are due for rotation, and why (one line, nothing secret)."""

    due: bool
    reason: str
    expires: datetime | None = None


def certificate_expiry(pem: str) -> datetime:
    """``notAfter`` (UTC) of the first certificate in ``pem`` (the operator Secret's ``tls.crt``);
    :class:`ValueError` when it holds none."""
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificates(pem.encode())[0].not_valid_after_utc
    except (ValueError, IndexError):
        raise ValueError("tls.crt holds no PEM certificate") from None


def rotation_due(
    config: TenantConfig, *, within: timedelta, now: datetime | None = None, kube: KubeClient | None = None
) -> RotationDue:
    """Is the stack's x509 certificate, as the operator uses it (the live operator Secret's ``tls.crt``),
    expiring within ``within`` (or expired)? Client-secret credentials do not expire: never due. The Secret is
    read with the stack's kubeconfig and context (``kube``: a client to use instead). Raises
    :class:`~btp_infra.kube.KubeError` when the cluster cannot be read."""
    if config.credential_type != "x509":
        return RotationDue(False, f"{config.credential_type} credentials do not expire")
    from btp_infra.kube import KubeClient

    client = kube or KubeClient.from_kubeconfig(config.kubeconfig_value, context=config.kube_context)
    try:
        secret = client.get_secret(config.secret_namespace, config.secret_name)
    finally:
        if kube is None:
            client.close()
    where = f"Secret {config.secret_namespace}/{config.secret_name}"
    if secret is None:
        return RotationDue(True, f"{where} does not exist: `up` (re)creates it")
    try:
        expires = certificate_expiry(secret.data.get(OPERATOR_SECRET_CERT_KEY, ""))
    except ValueError as err:
        return RotationDue(True, f"{where}: {err}")
    left = expires - (now or datetime.now(UTC))
    when = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    if left <= timedelta(0):
        return RotationDue(True, f"{where}: the certificate expired at {when}", expires)
    if left <= within:
        return RotationDue(True, f"{where}: the certificate expires at {when}, within the window", expires)
    return RotationDue(False, f"{where}: the certificate expires at {when}, after the window", expires)


def _refuse(path: Path, value: object, message: str, valid: str) -> ConfigError:
    return ConfigError([ConfigIssue(str(path), CONFIG_CREDENTIAL_ROTATION, value, message, valid)])


def set_rotation_key(path: str | Path, key: str) -> RotationChange:
    """Write ``btp-infra:credentialRotation: "<key>"`` into the stack file at ``path``.

    Refused, with one line naming the file, the key and the value, before anything is written: a key that is
    not a rotation key, a key equal to the current one, a stack file the config model refuses, a ``config:``
    mapping in flow style (``{...}``: edit it by hand). Only the entry changes (added after the last entry of
    ``config:`` when missing); the result is validated before it atomically replaces the file."""
    path = Path(path)
    problem = rotation_key_problem(key)
    if problem:
        raise _refuse(path, key, problem, VALID_CREDENTIAL_ROTATION)
    current = load_stack_file(path)  # ConfigError: the file as it is is invalid; nothing is written
    if current.credential_rotation == key:
        raise _refuse(path, key, "is the current rotation key", "a key this stack has not used yet")
    text = path.read_text(encoding="utf-8")
    edited = _with_entry(path, text, key)
    temporary = _write_beside(path, edited)
    try:
        rotated = load_stack_file(temporary)
        if rotated.credential_rotation != key:  # pragma: no cover - the edit above is the only change
            raise _refuse(path, key, "could not be written", "a stack file with a block config: mapping")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return RotationChange(path, current.credential_rotation, key, current.binding_name, rotated.binding_name)


def _with_entry(path: Path, text: str, key: str) -> str:
    """``text`` with the rotation entry's value replaced by ``key`` (double-quoted), or the entry added."""
    value = json.dumps(key)
    root = yaml.compose(text, Loader=yaml.SafeLoader)  # the file passed the bounded loader already
    config = (
        next((v for k, v in root.value if isinstance(k, yaml.ScalarNode) and k.value == "config"), None)
        if isinstance(root, yaml.MappingNode)
        else None
    )
    if not isinstance(config, yaml.MappingNode) or config.flow_style:
        raise _refuse(
            path,
            key,
            "cannot be written into this stack file's config: (not a block mapping)",
            f"a block config: mapping, or add {CONFIG_CREDENTIAL_ROTATION}: {value} by hand",
        )
    for key_node, value_node in config.value:
        if key_node.value == CONFIG_CREDENTIAL_ROTATION:
            start, end = value_node.start_mark.index, value_node.end_mark.index
            return text[:start] + value + text[end:]
    if not config.value:  # `config:` with no entries: pragma: no cover - refused by the loader (namespace)
        raise _refuse(path, key, "has an empty config: mapping", "a stack file with its config entries")
    indent = config.value[0][0].start_mark.column
    lines = text.splitlines(keepends=True)
    end = config.value[-1][1].end_mark
    at = end.line if end.column == 0 else end.line + 1
    if at > len(lines):
        at = len(lines)
    if at and not lines[at - 1].endswith("\n"):
        lines[at - 1] += "\n"
    lines.insert(at, f"{' ' * indent}{CONFIG_CREDENTIAL_ROTATION}: {value}\n")
    return "".join(lines)


def _write_beside(path: Path, text: str) -> Path:
    """``text`` in a new file next to ``path`` with its mode, named so that no stack discovery matches it."""
    temporary = path.with_name(f".{path.name}.rotate-{secrets.token_hex(6)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        shutil.copymode(path, temporary)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def rotate(
    stack: str,
    *,
    project_dir: str | Path = ".",
    key: str | None = None,
    run_up: bool = True,
    console: Console | None = None,
) -> tuple[RotationChange, FleetResult | None]:
    """Set the stack's rotation key (``key``, default :func:`default_key`) in its stack file, then — unless
    ``run_up`` is false — ``up`` that stack (:func:`btp_infra.automation.run_fleet`, as ``btp-infra up``).
    Raises :class:`~btp_infra.config.ConfigError` (nothing written, nothing run) for a refused key or file;
    returns what was written and the fleet result (None without ``up``)."""
    path = stack_file_for(stack, project_dir)
    if not path.is_file():
        raise ConfigError(
            [ConfigIssue(str(path), "", NO_VALUE, "does not exist", "the stack file of an existing tenant")]
        )
    change = set_rotation_key(path, key or default_key())
    if not run_up:
        return change, None
    from btp_infra.automation import run_fleet

    return change, run_fleet("up", [stack], project_dir=project_dir, parallel=1, yes=True, console=console)

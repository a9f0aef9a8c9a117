"""The environment of every Pulumi process of a fleet run: backend, secrets provider, passphrase.

Embedded defaults for a fresh machine:

- **backend**: ``PULUMI_BACKEND_URL`` when set; else ``backend.url`` of ``Pulumi.yaml`` when set; else a
  local file backend under the project, ``file://<project>/.pulumi-state`` (created if missing; git should
  ignore it);
- **secrets provider** of a new stack: the stack file's ``secretsprovider`` when set, else ``passphrase``;
- **passphrase** (only needed when some selected stack uses the passphrase provider), first source that is
  set wins: env ``PULUMI_CONFIG_PASSPHRASE``, env ``PULUMI_CONFIG_PASSPHRASE_FILE`` (Pulumi reads the file),
  the OS keyring entry ``btp-infra`` / ``pulumi-passphrase`` (a secure backend only, as
  :mod:`btp_infra.credentials` requires, unless ``PYTHON_KEYRING_BACKEND`` chooses one).

Secrets reach Pulumi through the process environment only: never argv, never a file written here. A
keyring passphrase is held by :class:`~btp_infra.automation.pulumi_cli.PulumiCli` (``secret_env``), not by
a workspace.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import keyring
import keyring.errors

from btp_infra.automation.pulumi_cli import FleetSetupError, read_project_file
from btp_infra.credentials import BACKEND_ENV, KEYRING_SERVICE, insecure_keyring

__all__ = [
    "ENV_BACKEND_URL",
    "ENV_PASSPHRASE",
    "ENV_PASSPHRASE_FILE",
    "PASSPHRASE_KEYRING_ENTRY",
    "PASSPHRASE_PROVIDER",
    "STATE_DIR",
    "Backend",
    "Passphrase",
    "resolve_backend",
    "resolve_passphrase",
    "store_passphrase_in_keyring",
]

ENV_BACKEND_URL: Final = "PULUMI_BACKEND_URL"
ENV_PASSPHRASE: Final = "PULUMI_CONFIG_PASSPHRASE"
ENV_PASSPHRASE_FILE: Final = "PULUMI_CONFIG_PASSPHRASE_FILE"
PASSPHRASE_KEYRING_ENTRY: Final = "pulumi-passphrase"
PASSPHRASE_PROVIDER: Final = "passphrase"
STATE_DIR: Final = ".pulumi-state"
HOW_TO_SET_PASSPHRASE: Final = (
    f"set env {ENV_PASSPHRASE}, or env {ENV_PASSPHRASE_FILE}=/path/to/passphrase-file, or store it in the OS "
    f"keyring under service '{KEYRING_SERVICE}', entry '{PASSPHRASE_KEYRING_ENTRY}' "
    f"(keyring set {KEYRING_SERVICE} {PASSPHRASE_KEYRING_ENTRY})"
)


@dataclass(frozen=True)
class Backend:
    """Where state lives: ``url`` and its ``source``; ``env`` is what the Pulumi processes need added
    (``PULUMI_BACKEND_URL`` for the embedded default, nothing when the user chose)."""

    url: str
    source: str
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Passphrase:
    """Where the passphrase comes from (``source``, never the value); ``secret_env`` holds the value when
    it came from the keyring (env sources already reach Pulumi through the inherited environment)."""

    source: str
    secret_env: dict[str, str] = field(default_factory=dict, repr=False)


def resolve_backend(project_dir: Path, environ: Mapping[str, str] | None = None) -> Backend:
    """The backend of a fleet run (order in the module docstring); creates the default state directory."""
    env = os.environ if environ is None else environ
    url = env.get(ENV_BACKEND_URL, "").strip()
    if url:
        return Backend(url, f"env {ENV_BACKEND_URL}")
    found = read_project_file(project_dir)
    if found is not None:
        backend = found[1].get("backend")
        if isinstance(backend, dict) and isinstance(backend.get("url"), str) and backend["url"].strip():
            return Backend(backend["url"].strip(), f"{found[0].name} backend.url")
    state = project_dir.resolve() / STATE_DIR
    try:
        state.mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        raise FleetSetupError(
            f"cannot create the local state directory {state} ({exc.strerror or type(exc).__name__}); "
            f"set {ENV_BACKEND_URL} to another backend"
        ) from None
    default = f"file://{state}"
    return Backend(default, "default (local file backend)", {ENV_BACKEND_URL: default})


def _check_secure_keyring(environ: Mapping[str, str]) -> None:
    names = insecure_keyring(environ)
    if names is None:
        return
    raise FleetSetupError(
        f"no Pulumi passphrase: {ENV_PASSPHRASE} and {ENV_PASSPHRASE_FILE} are not set and there is no "
        f"secure keyring backend on this machine (found {', '.join(names) or 'none'}); set "
        f"{ENV_PASSPHRASE} or {ENV_PASSPHRASE_FILE} (or choose a keyring backend with {BACKEND_ENV})"
    )


def resolve_passphrase(environ: Mapping[str, str] | None = None) -> Passphrase:
    """The passphrase source (order in the module docstring); :class:`FleetSetupError` naming every way
    to provide one when none is set. The value is never put in a message."""
    env = os.environ if environ is None else environ
    if ENV_PASSPHRASE in env:
        return Passphrase(f"env {ENV_PASSPHRASE}")
    path_text = env.get(ENV_PASSPHRASE_FILE, "").strip()
    if path_text:
        path = Path(path_text).expanduser()
        if not path.is_file():
            raise FleetSetupError(f"env {ENV_PASSPHRASE_FILE}={path_text}: not a regular file")
        return Passphrase(f"env {ENV_PASSPHRASE_FILE}={path_text}")
    _check_secure_keyring(env)
    where = f"keyring {KEYRING_SERVICE}/{PASSPHRASE_KEYRING_ENTRY}"
    try:
        value = keyring.get_password(KEYRING_SERVICE, PASSPHRASE_KEYRING_ENTRY)
    except Exception as exc:  # any backend failure; its details may quote stored secrets
        raise FleetSetupError(f"{where}: the keyring backend failed ({type(exc).__name__})") from None
    if value is None:
        raise FleetSetupError(
            f"no Pulumi passphrase for the passphrase secrets provider; {HOW_TO_SET_PASSPHRASE}"
        )
    return Passphrase(where, {ENV_PASSPHRASE: value})


def store_passphrase_in_keyring(passphrase: str, environ: Mapping[str, str] | None = None) -> None:
    """Store the Pulumi passphrase under ``btp-infra`` / ``pulumi-passphrase`` (secure backends only)."""
    env = os.environ if environ is None else environ
    if not passphrase:
        raise FleetSetupError("the passphrase is empty")
    _check_secure_keyring(env)
    try:
        keyring.set_password(KEYRING_SERVICE, PASSPHRASE_KEYRING_ENTRY, passphrase)
    except Exception as exc:  # see resolve_passphrase
        raise FleetSetupError(
            f"keyring {KEYRING_SERVICE}/{PASSPHRASE_KEYRING_ENTRY}: the keyring backend failed "
            f"({type(exc).__name__})"
        ) from None

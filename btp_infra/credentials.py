"""Where the ``cis`` service key comes from, in this order (the first source that is set wins):

1. env ``BTP_CIS_SERVICE_KEY``: the key JSON itself;
2. env ``BTP_CIS_SERVICE_KEY_FILE``: the path of a file holding the JSON;
3. the Pulumi config secret ``btp-infra:cisServiceKey`` (decrypted by the engine, passed in by the caller);
4. a keyring entry (service ``btp-infra``, user = profile); the profile comes from
   ``btp-infra:keyringProfile`` or else env ``BTP_INFRA_KEYRING_PROFILE``.

A source that is set but broken (bad JSON, unreadable file, missing keyring entry) is an error, never a silent
fall-through to the next source. Messages name the source (env var, file path, config key, keyring profile),
never key material.

Hostile sources fail in one line too: the key file must be a regular file (a FIFO or ``/dev/zero`` is refused
before it is opened) of at most 64 KiB (:data:`btp_infra.limits.MAX_KEY_BYTES`); any key document is held to
the same size, 32 levels of nesting and 4300-digit integers; a keyring backend that fails in any way (also a
corrupted file or entry of a file backend) is named with the kind of failure only, never its details (they
may quote the stored secret).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import keyring
import keyring.errors

from btp_infra.btp.errors import ServiceKeyError
from btp_infra.btp.keys import CisServiceKey
from btp_infra.config import TenantConfig
from btp_infra.conventions import CONFIG_CIS_KEY, CONFIG_KEYRING_PROFILE, KEYRING_PROFILE_RE
from btp_infra.limits import MAX_KEY_BYTES, InputLimitError, bounded_repr, format_size, read_regular_file

__all__ = [
    "ENV_KEY",
    "ENV_KEY_FILE",
    "ENV_PROFILE",
    "KEYRING_SERVICE",
    "CredentialsError",
    "NoCredentialsError",
    "ResolvedCisKey",
    "ServiceKeyError",
    "delete_from_keyring",
    "resolve_cis_service_key",
    "resolve_for_tenant",
    "store_in_keyring",
]

ENV_KEY: Final = "BTP_CIS_SERVICE_KEY"
ENV_KEY_FILE: Final = "BTP_CIS_SERVICE_KEY_FILE"
ENV_PROFILE: Final = "BTP_INFRA_KEYRING_PROFILE"
KEYRING_SERVICE: Final = "btp-infra"
HOW_TO_CONFIGURE: Final = (
    "Provide the cis service key in one of these ways (checked in this order):\n"
    f"  1. env {ENV_KEY}='<service key JSON>'\n"
    f"  2. env {ENV_KEY_FILE}=/path/to/cis-key.json\n"
    f"  3. Pulumi config secret: pulumi config set --secret {CONFIG_CIS_KEY} < cis-key.json\n"
    f"  4. keyring: store it under service '{KEYRING_SERVICE}' with a profile name "
    "(btp_infra.credentials.store_in_keyring), then set "
    f"{CONFIG_KEYRING_PROFILE} or env {ENV_PROFILE} to that profile"
)


class CredentialsError(Exception):
    """The cis key could not be obtained from a configured source (never contains key material)."""


class NoCredentialsError(CredentialsError):
    """No source of the cis key is configured; the message lists the four ways."""


@dataclass(frozen=True)
class ResolvedCisKey:
    """The parsed key and a description of the source that won (``env BTP_CIS_SERVICE_KEY_FILE=/path``)."""

    key: CisServiceKey = field(repr=False)
    source: str


def _check_profile(profile: str, origin: str) -> str:
    if not KEYRING_PROFILE_RE.fullmatch(profile):
        raise CredentialsError(
            f"{origin}: {bounded_repr(profile)} is not a keyring profile name "
            "(letters, digits, '.', '_' and '-', at most 64 characters)"
        )
    return profile


def _backend_name() -> str:
    backend = keyring.get_keyring()
    return f"{type(backend).__module__}.{type(backend).__name__}"


#: Backends that keep nothing, or keep secrets in a plain file: never chosen for the cis key implicitly.
INSECURE_BACKENDS: Final = frozenset(
    {
        "keyring.backends.fail.Keyring",
        "keyring.backends.null.Keyring",
        "keyrings.alt.file.PlaintextKeyring",
    }
)
BACKEND_ENV: Final = "PYTHON_KEYRING_BACKEND"


def _names(backend: object) -> list[str]:
    inner = getattr(backend, "backends", None)  # keyring's ChainerBackend
    if isinstance(inner, list | tuple):
        return [name for b in inner for name in _names(b)]
    return [f"{type(backend).__module__}.{type(backend).__name__}"]


def _secure_keyring(where: str, environ: Mapping[str, str]) -> None:
    """Refuse an insecure backend unless the user chose it with ``PYTHON_KEYRING_BACKEND`` (keyring's own
    setting): on headless Linux and in containers there is no Secret Service, and keyring would fall back to
    a plain file (with ``keyrings.alt`` installed) or to nothing."""
    names = _names(keyring.get_keyring())
    if environ.get(BACKEND_ENV) or (names and not set(names) <= INSECURE_BACKENDS):
        return
    raise CredentialsError(
        f"{where}: no secure keyring backend on this machine (no Secret Service, Keychain or Credential "
        f"Locker; found {', '.join(names) or 'none'}); use env {ENV_KEY} or {ENV_KEY_FILE}, or the stack "
        f"secret {CONFIG_CIS_KEY}, instead (or choose a backend with {BACKEND_ENV})"
    )


def _backend_failed(where: str, exc: Exception) -> CredentialsError:
    """The one line for any failure of the keyring backend: its name and the kind of failure, no details
    (a corrupted file backend's parse errors quote the file's lines, that is, stored secrets)."""
    hint = "" if isinstance(exc, keyring.errors.KeyringError) else "; its storage may be corrupted"
    failure = type(exc).__name__
    return CredentialsError(f"{where}: the keyring backend {_backend_name()} failed ({failure}){hint}")


def _from_keyring(profile: str, origin: str) -> ResolvedCisKey:
    source = f"keyring {KEYRING_SERVICE}/{profile} (profile from {origin})"
    _secure_keyring(source, os.environ)
    try:
        raw = keyring.get_password(KEYRING_SERVICE, profile)
    except Exception as exc:  # any backend failure: KeyringError, configparser, base64, UnicodeDecodeError
        raise _backend_failed(source, exc) from None
    if raw is None:
        raise CredentialsError(
            f"{source}: no entry in the keyring backend {_backend_name()}; store the key with "
            f"btp_infra.credentials.store_in_keyring({profile!r}, ...) or choose another source.\n"
            + HOW_TO_CONFIGURE
        )
    return ResolvedCisKey(CisServiceKey.parse(raw, source=source), source)


def resolve_cis_service_key(
    *,
    config_value: str | None = None,
    config_encrypted: bool = False,
    keyring_profile: str | None = None,
    environ: Mapping[str, str] | None = None,
    config_source: str = CONFIG_CIS_KEY,
) -> ResolvedCisKey:
    """Find and parse the cis key (order in the module docstring).

    ``config_value`` is the decrypted ``btp-infra:cisServiceKey``; ``config_encrypted`` says it is set but
    could not be decrypted here (offline), which is mentioned when nothing else is configured.
    ``keyring_profile`` is ``btp-infra:keyringProfile``. ``environ`` defaults to ``os.environ``.
    Raises :class:`ServiceKeyError` (a source holds an invalid key), :class:`CredentialsError` (a source is
    set but unusable) or :class:`NoCredentialsError` (nothing configured).
    """
    env = os.environ if environ is None else environ

    raw = env.get(ENV_KEY, "")
    if raw.strip():
        source = f"env {ENV_KEY}"
        return ResolvedCisKey(CisServiceKey.parse(raw, source=source), source)

    path_text = env.get(ENV_KEY_FILE, "").strip()
    if path_text:
        path = Path(path_text).expanduser()
        source = f"env {ENV_KEY_FILE}={path_text}"
        try:
            data = read_regular_file(path, limit=MAX_KEY_BYTES)
        except FileNotFoundError:
            raise CredentialsError(f"{source}: file not found") from None
        except InputLimitError as exc:
            raise CredentialsError(
                f"{source}: cannot read the file: it {exc}; point it at the key's JSON file "
                f"(a regular file of at most {format_size(MAX_KEY_BYTES)})"
            ) from None
        except OSError as exc:
            raise CredentialsError(
                f"{source}: cannot read the file ({exc.strerror or type(exc).__name__})"
            ) from None
        return ResolvedCisKey(CisServiceKey.parse(data, source=source), source)

    if config_value is not None and config_value.strip():
        source = f"Pulumi config {config_source}"
        return ResolvedCisKey(CisServiceKey.parse(config_value, source=source), source)

    if keyring_profile:
        return _from_keyring(_check_profile(keyring_profile, CONFIG_KEYRING_PROFILE), CONFIG_KEYRING_PROFILE)
    env_profile = env.get(ENV_PROFILE, "").strip()
    if env_profile:
        return _from_keyring(_check_profile(env_profile, f"env {ENV_PROFILE}"), f"env {ENV_PROFILE}")

    note = ""
    if config_encrypted:
        note = (
            f" ({config_source} is set but encrypted; it is only decrypted when Pulumi runs the program, "
            "so offline tools need another source)"
        )
    raise NoCredentialsError(f"no cis service key configured{note}.\n{HOW_TO_CONFIGURE}")


def resolve_for_tenant(config: TenantConfig, *, environ: Mapping[str, str] | None = None) -> ResolvedCisKey:
    """:func:`resolve_cis_service_key` with ``cisServiceKey`` and ``keyringProfile`` from a tenant config."""
    return resolve_cis_service_key(
        config_value=config.cis_service_key_value,
        config_encrypted=config.has_cis_service_key and config.cis_service_key_value is None,
        keyring_profile=config.keyring_profile,
        environ=environ,
        config_source=f"{CONFIG_CIS_KEY} ({config.source})",
    )


def store_in_keyring(profile: str, raw_key: str | bytes | Mapping[str, Any]) -> CisServiceKey:
    """Validate ``raw_key``, store it (compact JSON) under ``btp-infra/<profile>``, return the parsed key."""
    _check_profile(profile, "keyring profile")
    source = f"key for keyring profile {profile!r}"
    parsed = CisServiceKey.parse(raw_key, source=source)  # bounded: size, nesting, integers
    if isinstance(raw_key, Mapping):
        document: object = dict(raw_key)
    else:
        document = json.loads(raw_key.decode("utf-8") if isinstance(raw_key, bytes) else raw_key)
    compact = json.dumps(document, separators=(",", ":"))
    _secure_keyring(f"keyring {KEYRING_SERVICE}/{profile}", os.environ)
    try:
        keyring.set_password(KEYRING_SERVICE, profile, compact)
    except Exception as exc:  # any backend failure (see _from_keyring)
        raise _backend_failed(f"keyring {KEYRING_SERVICE}/{profile}", exc) from None
    return parsed


def delete_from_keyring(profile: str) -> bool:
    """Delete ``btp-infra/<profile>`` from the keyring; False when there was no entry."""
    _check_profile(profile, "keyring profile")
    try:
        if keyring.get_password(KEYRING_SERVICE, profile) is None:
            return False
        keyring.delete_password(KEYRING_SERVICE, profile)
    except keyring.errors.PasswordDeleteError:
        return False
    except Exception as exc:  # any backend failure (see _from_keyring)
        raise _backend_failed(f"keyring {KEYRING_SERVICE}/{profile}", exc) from None
    return True

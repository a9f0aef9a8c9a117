"""Where the ``cis`` service key comes from, in this order (the first source that is set wins):

1. env ``BTP_CIS_SERVICE_KEY``: the key JSON itself;
2. env ``BTP_CIS_SERVICE_KEY_FILE``: the path of a file holding the JSON;
3. the Pulumi config secret ``btp-infra:cisServiceKey`` (decrypted by the engine, passed in by the caller);
4. a keyring entry (service ``btp-infra``, user = profile); the profile comes from
   ``btp-infra:keyringProfile`` or else env ``BTP_INFRA_KEYRING_PROFILE``.

The program (via the providers, which resolve at every call) and the command line (``btp-infra credentials
which|test``) use this one function, so they agree. A stack's ``cisServiceKey`` that is still encrypted
(offline, before Pulumi runs the program) is :class:`EncryptedConfigError`: a stack run would use it before
the keyring, so an offline tool cannot say which key that is. Messages that ask for a key name the ways in
terms of commands (``btp-infra login``, ``pulumi config set --secret``, the env vars).

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
from btp_infra.limits import (
    MAX_KEY_BYTES,
    InputLimitError,
    bounded_repr,
    format_size,
    loads_json,
    read_regular_file,
)

__all__ = [
    "ENV_KEY",
    "ENV_KEY_FILE",
    "ENV_PROFILE",
    "KEYRING_SERVICE",
    "CisKeyInfo",
    "CredentialsError",
    "EncryptedConfigError",
    "NoCredentialsError",
    "ResolvedCisKey",
    "ServiceKeyError",
    "check_profile",
    "delete_from_keyring",
    "ensure_secure_keyring",
    "from_keyring",
    "insecure_keyring",
    "parse_cis_key",
    "resolve_cis_service_key",
    "resolve_for_tenant",
    "store_in_keyring",
]

ENV_KEY: Final = "BTP_CIS_SERVICE_KEY"
ENV_KEY_FILE: Final = "BTP_CIS_SERVICE_KEY_FILE"
ENV_PROFILE: Final = "BTP_INFRA_KEYRING_PROFILE"
KEYRING_SERVICE: Final = "btp-infra"
HOW_TO_CONFIGURE: Final = (
    "Provide the cis service key (plan central, of the global account) in one of these ways "
    "(checked in this order):\n"
    f"  1. env {ENV_KEY}='<service key JSON>'\n"
    f"  2. env {ENV_KEY_FILE}=/path/to/cis-key.json\n"
    f"  3. Pulumi config secret: pulumi config set --secret {CONFIG_CIS_KEY} < cis-key.json\n"
    "  4. keyring: btp-infra login --profile PROFILE --service-key-file cis-key.json, then "
    f"pulumi config set {CONFIG_KEYRING_PROFILE} PROFILE (per stack) "
    f"or env {ENV_PROFILE}=PROFILE"
)


def _login_hint(profile: str) -> str:
    return f"btp-infra login --profile {profile} --service-key-file cis-key.json"


class CredentialsError(Exception):
    """The cis key could not be obtained from a configured source (never contains key material)."""


class NoCredentialsError(CredentialsError):
    """No source of the cis key is configured; the message lists the four ways."""


class EncryptedConfigError(NoCredentialsError):
    """The stack's ``cisServiceKey`` secret would be used, but it is encrypted (offline, before Pulumi runs
    the program): no key to check here, and the keyring profile (after it in the order) does not count."""


_DETAIL_LIMIT: Final = 200


def _detail(document: Mapping[str, Any], *path: str) -> str | None:
    """A short printable string at ``path`` of the key document (non-secret metadata), else None."""
    value: object = document
    for name in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > _DETAIL_LIMIT:
        return None
    return value if value.isprintable() else None


@dataclass(frozen=True)
class CisKeyInfo:
    """What a cis key says about itself, nothing secret: its client, token endpoint, service offering
    (``sap.cloud.service``, ``…central`` for plan central) and global account (``uaa.identityzone`` = its
    subdomain, ``uaa.tenantid`` = its GUID). Cockpit keys carry all of them; a hand-made key may not."""

    client_id: str
    token_url: str
    service: str | None = None
    subdomain: str | None = None
    global_account_guid: str | None = None

    @property
    def plan(self) -> str | None:
        """The plan named by ``sap.cloud.service`` (``central``, ``central-viewer``, ``local``…), if any."""
        if self.service is None:
            return None
        return self.service.rsplit(".", 1)[-1] or None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "client_id": self.client_id,
            "token_url": self.token_url,
            "service": self.service,
            "plan": self.plan,
            "global_account_subdomain": self.subdomain,
            "global_account_guid": self.global_account_guid,
        }


@dataclass(frozen=True)
class ResolvedCisKey:
    """The parsed key, a description of the source that won (``env BTP_CIS_SERVICE_KEY_FILE=/path``) and
    the key's non-secret metadata (:class:`CisKeyInfo`)."""

    key: CisServiceKey = field(repr=False)
    source: str
    info: CisKeyInfo | None = None


def parse_cis_key(raw: str | bytes | bytearray | Mapping[str, Any], source: str) -> ResolvedCisKey:
    """Parse a cis key (bounded, errors name ``source`` only) with its :class:`CisKeyInfo`."""
    key = CisServiceKey.parse(raw, source=source)  # validates size, nesting, integers, UTF-8, JSON
    if isinstance(raw, Mapping):
        document: object = raw
    else:
        text = bytes(raw).decode("utf-8") if isinstance(raw, bytes | bytearray) else raw
        document = loads_json(text)
    doc: Mapping[str, Any] = document if isinstance(document, Mapping) else {}
    info = CisKeyInfo(
        client_id=key.uaa.clientid,
        token_url=key.token_url,
        service=_detail(doc, "sap.cloud.service"),
        subdomain=_detail(doc, "uaa", "identityzone"),
        global_account_guid=_detail(doc, "uaa", "tenantid") or _detail(doc, "uaa", "identityzoneid"),
    )
    return ResolvedCisKey(key, source, info)


def _check_profile(profile: str, origin: str) -> str:
    if not KEYRING_PROFILE_RE.fullmatch(profile):
        raise CredentialsError(
            f"{origin}: {bounded_repr(profile)} is not a keyring profile name "
            "(letters, digits, '.', '_' and '-', at most 64 characters)"
        )
    return profile


def check_profile(profile: str, origin: str = "keyring profile") -> str:
    """``profile`` if it is a valid keyring profile name, else :class:`CredentialsError`."""
    return _check_profile(profile, origin)


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


def insecure_keyring(environ: Mapping[str, str]) -> list[str] | None:
    """The names of the keyring backends when none of them keeps secrets safely (keyring's fail/null
    backends, a plaintext file) and the user did not choose one with ``PYTHON_KEYRING_BACKEND``; ``None``
    when the keyring may be used. On headless Linux and in containers there is no Secret Service, and keyring
    would fall back to a plain file (with ``keyrings.alt`` installed) or to nothing."""
    names = _names(keyring.get_keyring())
    if environ.get(BACKEND_ENV) or (names and not set(names) <= INSECURE_BACKENDS):
        return None
    return names


def _secure_keyring(where: str, environ: Mapping[str, str]) -> None:
    """Refuse an insecure backend (:func:`insecure_keyring`) in one line naming the other sources."""
    names = insecure_keyring(environ)
    if names is None:
        return
    raise CredentialsError(
        f"{where}: no secure keyring backend on this machine (no Secret Service, Keychain or Credential "
        f"Locker; found {', '.join(names) or 'none'}); use env {ENV_KEY} or {ENV_KEY_FILE}, or the stack "
        f"secret {CONFIG_CIS_KEY}, instead (or choose a backend with {BACKEND_ENV})"
    )


def ensure_secure_keyring(where: str) -> None:
    """:class:`CredentialsError` unless the keyring backend is secure or chosen with
    ``PYTHON_KEYRING_BACKEND`` (checked before a key is verified: nothing is fetched for a key that could not
    be stored)."""
    _secure_keyring(where, os.environ)


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
            f"{_login_hint(profile)} or choose another source.\n" + HOW_TO_CONFIGURE
        )
    return parse_cis_key(raw, source)


def from_keyring(profile: str, origin: str = "--profile") -> ResolvedCisKey:
    """The key stored under keyring profile ``profile`` (``origin`` says where the name came from)."""
    return _from_keyring(_check_profile(profile, origin), origin)


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
    could not be decrypted here (offline): unless an env source is set, that is
    :class:`EncryptedConfigError` (a stack run would use that secret, before any keyring profile).
    ``keyring_profile`` is ``btp-infra:keyringProfile``. ``environ`` defaults to ``os.environ``.
    Raises :class:`ServiceKeyError` (a source holds an invalid key), :class:`CredentialsError` (a source is
    set but unusable) or :class:`NoCredentialsError` (nothing configured; the message lists the ways in
    CLI commands).
    """
    env = os.environ if environ is None else environ

    raw = env.get(ENV_KEY, "")
    if raw.strip():
        return parse_cis_key(raw, f"env {ENV_KEY}")

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
        return parse_cis_key(data, source)

    if config_value is not None and config_value.strip():
        return parse_cis_key(config_value, f"Pulumi config {config_source}")
    if config_encrypted:
        # A stack run decrypts it and uses it before any keyring profile: the keyring does not count here.
        raise EncryptedConfigError(
            f"no cis service key available offline: {config_source} is set but encrypted; it is only "
            "decrypted when Pulumi runs the program, and a stack run uses it before any keyring profile, "
            f"so it cannot be checked here. To check a key offline, give it with env {ENV_KEY} or "
            f"{ENV_KEY_FILE} (they come first), or check it with pulumi preview.\n{HOW_TO_CONFIGURE}"
        )

    if keyring_profile:
        return _from_keyring(_check_profile(keyring_profile, CONFIG_KEYRING_PROFILE), CONFIG_KEYRING_PROFILE)
    env_profile = env.get(ENV_PROFILE, "").strip()
    if env_profile:
        return _from_keyring(_check_profile(env_profile, f"env {ENV_PROFILE}"), f"env {ENV_PROFILE}")

    raise NoCredentialsError(f"no cis service key configured.\n{HOW_TO_CONFIGURE}")


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

"""Which config values are secret, and how they are kept out of every message.

Owns: :class:`EncryptedSecret` (a ``secure:`` value read offline), :func:`is_secret_key`, the redaction of
secret-looking values at any depth (also inside JSON or YAML text) and of their text in messages, and the
recognition of a ``secure:`` value in a stack file.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Final

import yaml
from pydantic import BaseModel, ConfigDict

from btp_infra.config.keys import CONFIG_KEYS, SECRET_KEYS
from btp_infra.config.text import SECRET
from btp_infra.config.yamltext import load_yaml_text
from btp_infra.limits import loads_json


class EncryptedSecret(BaseModel):
    """A ``secure:`` value read from a stack file: present, but not decryptable offline."""

    model_config = ConfigDict(frozen=True, extra="forbid")


_SECRET_WORDS: Final = (
    "secret",
    "password",
    "passwd",
    "passphrase",
    "token",
    "credential",
    "kubeconfig",
    "privatekey",
    "apikey",
    "servicekey",
    "accesskey",
)
_SECRET_TEXT: Final = re.compile(
    r"secret|passw|token|credential|private.?key|BEGIN [A-Z ]*PRIVATE", re.IGNORECASE
)
_STRUCTURED_TEXT: Final = re.compile(r"[{\[\n=:]")


def is_secret_key(key: str) -> bool:
    """True for a key whose value is (or holds) a secret, under any namespace and in any case.

    :data:`SECRET_KEYS` and every other name that looks secret: ``*key`` (``cisServiceKey``, ``tls.key``,
    ``apiKey``), ``*secret*``, ``*password*``, ``*token*``, ``*credential*``, ``*kubeconfig*``. Known
    non-secret config keys (``secretPlacement``, ``credentialType``, ``keyringProfile``) are not. ``key`` may
    be qualified (``btp-infa:cisServiceKey``) or a path (``entitlements[0].clientsecret``): its last name
    counts.
    """
    names = [part for part in re.split(r"[:.\[\]\"'/]+", key) if part]
    if not names:
        return False
    name = re.sub(r"[^a-z0-9]", "", names[-1].lower())
    if not name:
        return False
    if name in {k.lower() for k in SECRET_KEYS}:
        return True
    if name in {k.lower() for k in CONFIG_KEYS}:
        return False
    return name.endswith("key") or any(word in name for word in _SECRET_WORDS)


def strings_in(value: object) -> set[str]:
    """The string leaves of ``value`` (a secret's parts, to remove from messages too)."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, Mapping):
        return {s for v in value.values() for s in strings_in(v)}
    if isinstance(value, list | tuple):
        return {s for v in value for s in strings_in(v)}
    return set()


def _parse_text(text: str) -> object:
    # Bounded parsers (nesting, integers, aliases): the text is untrusted input inside a value.
    try:
        return loads_json(text)
    except ValueError:
        pass
    try:
        return load_yaml_text(text)
    except yaml.YAMLError:
        return None


def redact_value(value: object) -> tuple[object, set[str]]:
    """``value`` with the values of secret-looking keys (at any depth) as ``[secret]``, and what was removed.

    A string is ``[secret]`` as a whole if it is JSON or YAML text holding such a key, a private key, or
    text that looks structured, cannot be parsed and mentions a secret (a broken JSON key).
    """
    if isinstance(value, Mapping):
        shown: dict[object, object] = {}
        removed: set[str] = set()
        for key, item in value.items():
            if isinstance(key, str) and is_secret_key(key):
                shown[key] = SECRET
                removed |= strings_in(item)
            else:
                shown[key], inner = redact_value(item)
                removed |= inner
        return shown, removed
    if isinstance(value, list | tuple):
        parts = [redact_value(item) for item in value]
        return [p for p, _ in parts], {s for _, inner in parts for s in inner}
    if isinstance(value, str) and _STRUCTURED_TEXT.search(value):
        parsed = _parse_text(value)
        if isinstance(parsed, dict | list):
            hidden = redact_value(parsed)[1]
        else:
            hidden = strings_in(value) if _SECRET_TEXT.search(value) else set()
        if hidden:
            return SECRET, {value, *hidden}
    return value, set()


def without(text: str, secrets: Collection[str]) -> str:
    """``text`` with each secret (and its repr) replaced by ``[secret]``; very short strings are left."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(repr(secret), repr(SECRET)).replace(secret, repr(SECRET))
    return text


def is_secure(value: object) -> bool:
    """True for a stack file's encrypted value: ``{secure: <ciphertext>}``."""
    return isinstance(value, dict) and set(value) == {"secure"} and isinstance(value["secure"], str)


def secure_safe(value: object, key: str = "") -> object:
    """``value`` for an issue: ``[secret]`` if encrypted or ``key`` looks secret (bare ``cisServiceKey``)."""
    return SECRET if is_secure(value) or is_secret_key(key) else value

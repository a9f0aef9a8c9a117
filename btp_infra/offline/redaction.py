"""What the offline plan may show: secrets scrubbed from any text, and per-type allow-listed key properties.

Owns :class:`Scrubber` (a last line of defence: every text of the report is scrubbed of the stacks' secret
config values) and :func:`key_properties` (the properties shown per resource type, secret values as
``[secret]``, the operator Secret's data only as key names).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from btp_infra.btp.errors import Redactor
from btp_infra.config import ENCRYPTED_PLACEHOLDER, ConfigError, engine_config, is_secret_key, load_yaml_text
from btp_infra.conventions import (
    TYPE_ENTITLEMENT,
    TYPE_KUBERNETES_PROVIDER,
    TYPE_LIMIT_RANGE,
    TYPE_NAMESPACE,
    TYPE_RESOURCE_QUOTA,
    TYPE_SECRET,
    TYPE_SERVICE_BINDING,
    TYPE_SERVICE_INSTANCE,
    TYPE_SM_ACCESS,
    TYPE_SUBACCOUNT,
    TYPE_SUBACCOUNT_LIFECYCLE,
)
from btp_infra.limits import loads_json
from btp_infra.offline.graph import REDACTED, RenderedResource
from btp_infra.policy import rules

__all__ = ["REDACTED", "Scrubber", "key_properties"]


def _leaves(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)


def _secret_leaves(value: Any) -> Iterable[str]:
    """The string leaves under secret-looking keys (``clientsecret``, ``token``, ``client-key-data``…)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str) and is_secret_key(k):
                yield from _leaves(v)
            else:
                yield from _secret_leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _secret_leaves(v)


def _structured(value: str) -> tuple[Any, int] | None:
    """``value`` parsed as JSON (leaves of 8+ characters count) or YAML (16+), if it is a mapping or list."""
    # Bounded parsers: a secret value is untrusted input too (no alias bomb, nesting or huge integer).
    try:
        parsed, shortest = loads_json(value), Scrubber.JSON_LEAF_LENGTH
    except ValueError:
        try:
            parsed, shortest = load_yaml_text(value), Scrubber.YAML_LEAF_LENGTH
        except yaml.YAMLError:
            return None
    return (parsed, shortest) if isinstance(parsed, dict | list) else None


class Scrubber:
    """Replaces known secret values with ``[secret]`` in any text: a last line of defence.

    The values of secret-looking keys (:func:`btp_infra.config.is_secret_key`: any namespace, any case) are
    secrets. A secret value is added whole, and so are the string leaves of a JSON secret (the cis key's
    ``clientsecret``) and the long string leaves of a YAML one (a kubeconfig's token). Secrets through and
    through — a plain secret string, the leaves under secret-looking keys at any depth (also of other keys'
    JSON/YAML values) — are removed even in part: no 8-character piece of them is shown (a value truncated
    for display is not missed).
    """

    MIN_LENGTH = 6
    JSON_LEAF_LENGTH = 8
    YAML_LEAF_LENGTH = 16

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._pieces = Redactor()

    def add(self, value: str, *, plain_is_secret: bool = True) -> None:
        """A secret value; ``plain_is_secret=False``: a plain (not JSON/YAML) value is only hidden whole."""
        if value == ENCRYPTED_PLACEHOLDER:
            return
        if len(value) >= self.MIN_LENGTH:
            self._secrets.add(value)
        found = _structured(value)
        if found is None:
            if plain_is_secret:
                self._pieces.add(value)
            return
        parsed, shortest = found
        self._secrets.update(leaf for leaf in _leaves(parsed) if len(leaf) >= shortest)
        for leaf in _secret_leaves(parsed):
            self._pieces.add(leaf)

    def add_nested(self, value: str) -> None:
        """The leaves under secret-looking keys inside the JSON/YAML value of a key that is not secret."""
        found = _structured(value)
        if found is not None:
            for leaf in _secret_leaves(found[0]):
                if len(leaf) >= self.MIN_LENGTH:
                    self._secrets.add(leaf)
                self._pieces.add(leaf)

    def add_config(self, values: Mapping[str, str]) -> None:
        """The plaintext values of secret-looking keys (any namespace, any case) in an engine-form config."""
        for key, value in values.items():
            if is_secret_key(key):
                # A kubeconfig that is not YAML text is a file path: not secret in part.
                self.add(value, plain_is_secret=key.rpartition(":")[2].lower() != "kubeconfig")
            else:
                self.add_nested(value)

    def add_stack_file(self, path: Path) -> None:
        """The plaintext values of secret keys in a stack file (also one the config model rejected)."""
        try:
            self.add_config(engine_config(path))
        except ConfigError:
            return

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return self._pieces(text) if self._pieces else text


def _pick(values: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: values[k] for k in keys if values.get(k) is not None}


def _tidy(value: Any) -> Any:
    """Stable display form: mapping keys sorted, whole floats (the wire's numbers) as ints."""
    if isinstance(value, dict):
        return {k: _tidy(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_tidy(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def key_properties(resource: RenderedResource) -> dict[str, Any]:
    """The properties worth showing for a resource, from an allow-list per type; secrets as ``[secret]``."""
    return {k: _tidy(v) for k, v in _key_properties(resource).items()}


def _key_properties(resource: RenderedResource) -> dict[str, Any]:
    shown = resource.redacted_inputs
    meta: dict[str, Any] = shown["metadata"] if isinstance(shown.get("metadata"), dict) else {}
    kind = resource.type
    if kind == TYPE_NAMESPACE:
        return _pick(meta, "name", "labels")
    if kind == TYPE_SECRET:
        plain = resource.plain_inputs
        keys = sorted({*rules.as_mapping(plain.get("data")), *rules.as_mapping(plain.get("stringData"))})
        return {
            **_pick(meta, "namespace", "name", "labels"),
            **_pick(shown, "type"),
            "keys": keys,
            "values": REDACTED,
        }
    if kind == TYPE_RESOURCE_QUOTA:
        return {**_pick(meta, "namespace", "name"), "hard": (shown.get("spec") or {}).get("hard")}
    if kind == TYPE_LIMIT_RANGE:
        return {**_pick(meta, "namespace", "name"), "limits": (shown.get("spec") or {}).get("limits")}
    if kind.startswith("kubernetes:") and not kind.startswith("kubernetes:core/v1:"):
        spec: dict[str, Any] = shown["spec"] if isinstance(shown.get("spec"), dict) else {}
        return {**_pick(meta, "namespace", "name"), **_pick(spec, "policyTypes", "mtls")}
    if kind == TYPE_KUBERNETES_PROVIDER:
        return {
            **_pick(shown, "context", "namespace"),
            **({"kubeconfig": REDACTED} if "kubeconfig" in shown else {}),
        }
    if kind == TYPE_SUBACCOUNT:
        return _pick(shown, "subaccountId", "region")
    if kind == TYPE_SUBACCOUNT_LIFECYCLE:
        return _pick(shown, "displayName", "subdomain", "region", "usedForProduction")
    if kind == TYPE_ENTITLEMENT:
        return _pick(shown, "subaccountId", "serviceName", "planName", "amount")
    if kind == TYPE_SM_ACCESS:
        return _pick(shown, "subaccountId")
    if kind == TYPE_SERVICE_INSTANCE:
        return _pick(shown, "subaccountId", "name", "serviceOfferingName", "servicePlanName")
    if kind == TYPE_SERVICE_BINDING:
        return _pick(shown, "subaccountId", "name", "credentialType")
    return {}

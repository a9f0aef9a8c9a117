"""From a mapping of ``btp-infra`` keys to a :class:`~btp_infra.config.models.TenantConfig`, or every issue.

Owns: coercing engine-style strings (``"true"``, JSON text) to structured values, validating a mapping into a
config with every problem collected (:func:`parse_config`), the whole-stack rules the loaders add (a
``kubeContext`` is required; the ``kubernetes:*`` keys that choose a cluster are refused).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Final

from pydantic import ValidationError

from btp_infra.config.issues import ConfigError, ConfigIssue
from btp_infra.config.keys import IGNORED_KUBERNETES_KEYS
from btp_infra.config.models import DEFAULT_SOURCE, TenantConfig
from btp_infra.config.redaction import secure_safe
from btp_infra.config.text import NO_VALUE
from btp_infra.config.translate import translate, valid_text
from btp_infra.conventions import config_key
from btp_infra.limits import MAX_INT_DIGITS, MAX_NESTING, InputLimitError, loads_json

_BOOL_KEYS: Final = frozenset({"mtls", "protect", "takeOwnership", "allowSubaccountReplacement"})
_JSON_KEYS: Final = frozenset(
    {"entitlements", "labels", "quota", "limitRange", "timeouts", "x509", "adopt", "subaccount"}
)
_BOOLEANS: Final = {"true": True, "True": True, "false": False, "False": False}


def _coerce(key: str, value: object, *, source: str) -> tuple[object, ConfigIssue | None]:
    """Engine-style strings to structured values: ``"true"`` → True, JSON text → objects/lists."""
    if key in _BOOL_KEYS and isinstance(value, str):
        return _BOOLEANS.get(value, value), None
    if key in _JSON_KEYS and isinstance(value, str):
        valid = valid_text(key)
        try:
            return loads_json(value), None
        except json.JSONDecodeError as exc:
            message = f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        except InputLimitError as exc:  # nesting or integers beyond the limits
            message = f"is JSON that {exc}"
            valid = f"JSON nested at most {MAX_NESTING} levels, integers of at most {MAX_INT_DIGITS} digits"
        return value, ConfigIssue(source, key, value, message, valid)
    return value, None


def validate(
    data: Mapping[str, object],
    *,
    source: str,
    hidden: Collection[str] = (),
    issues: Sequence[ConfigIssue] = (),
    reported: Collection[str] = (),
) -> TenantConfig:
    """Coerce and validate ``data``; raise ConfigError with ``issues`` plus everything found here.

    ``hidden`` names extra keys whose values are never rendered; issues of a key in ``reported`` (already
    reported by the caller) are dropped."""
    found = list(issues)
    reported_keys = set(reported)
    values: dict[str, object] = {}
    for key, value in data.items():
        coerced, issue = _coerce(key, value, source=source)
        if issue is not None:
            found.append(issue)
            reported_keys.add(key)
        else:
            values[key] = coerced
    config: TenantConfig | None = None
    try:
        config = TenantConfig.model_validate(values)
    except ValidationError as exc:
        for issue in translate(exc, source=source, hidden=hidden):
            head = re.split(r"[.\[]", issue.key, maxsplit=1)[0]
            if head not in reported_keys:
                found.append(issue)
    if found or config is None:
        raise ConfigError(found)
    config._source = source
    return config


def parse_config(
    data: Mapping[str, object], *, source: str = DEFAULT_SOURCE, secret_keys: Collection[str] = ()
) -> TenantConfig:
    """Validate a mapping of camelCase ``btp-infra`` keys (structured values) into a TenantConfig.

    ``secret_keys`` names extra keys whose values must never be rendered. Raises :class:`ConfigError`.
    """
    return validate(data, source=source, hidden=set(secret_keys))


def kubernetes_key_issue(source: str, key: str, value: object) -> ConfigIssue:
    """The issue for a ``kubernetes:*`` key that would choose the cluster but is not read."""
    instead = IGNORED_KUBERNETES_KEYS[key]
    return ConfigIssue(
        source,
        key,
        secure_safe(value, key),
        "is not read: btp-infra configures its own Kubernetes provider, which ignores kubernetes:* config",
        f"set {config_key(instead)} instead (and remove {key})",
    )


def _kube_context_issue(source: str) -> ConfigIssue:
    return ConfigIssue(
        source,
        "kubeContext",
        NO_VALUE,
        "is required: without it the ambient kubeconfig's current context decides which cluster the tenant "
        "lands on",
        "the name of a context in the kubeconfig: pulumi config set btp-infra:kubeContext <context>",
    )


def validate_target(
    data: Mapping[str, object],
    *,
    source: str,
    hidden: Collection[str] = (),
    issues: Sequence[ConfigIssue] = (),
    reported: Collection[str] = (),
) -> TenantConfig:
    """:func:`validate` for a whole stack (the loaders): also requires ``kubeContext``, reported last."""
    missing = data.get("kubeContext") is None and "kubeContext" not in reported
    try:
        config = validate(data, source=source, hidden=hidden, issues=issues, reported=reported)
    except ConfigError as err:
        if missing:
            raise ConfigError([*err.issues, _kube_context_issue(source)]) from None
        raise
    if missing:
        raise ConfigError([_kube_context_issue(source)])
    return config

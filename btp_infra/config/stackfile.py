"""Reading one stack file (``stacks/Pulumi.<stack>.yaml``) offline into a validated tenant config.

Owns: reading the file within its limits, the file-level rules (top-level keys, the ``config:`` mapping), the
key-level rules of a stack file (namespaced keys, passed-through namespaces, which keys may or must be
``secure:``, no plaintext secrets), and :func:`load_stack_file`. ``secure:`` values stay encrypted:
"present, secret".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import yaml

from btp_infra.config.issues import ConfigError, ConfigIssue
from btp_infra.config.keys import CONFIG_KEYS, IGNORED_KUBERNETES_KEYS, SECRET_KEYS
from btp_infra.config.models import TenantConfig
from btp_infra.config.redaction import EncryptedSecret, is_secure, secure_safe
from btp_infra.config.text import NO_VALUE, SECRET, clip, did_you_mean, kind, show
from btp_infra.config.validate import kubernetes_key_issue, validate_target
from btp_infra.config.yamltext import MAX_STACK_FILE_BYTES, YamlLimitError, load_yaml_text
from btp_infra.conventions import CONFIG_NAMESPACE, config_key
from btp_infra.limits import InputLimitError, format_size, read_regular_file

PASSTHROUGH_NAMESPACES: Final = frozenset({"kubernetes", "pulumi"})
"""Config namespaces other than ``btp-infra`` that may appear in a stack file (left to their owners)."""
STACK_FILE_KEYS: Final = ("config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment")
"""Top-level keys of a Pulumi stack file."""

_VALID_STACK_FILE: Final = (
    "a YAML mapping with a config: mapping of btp-infra:<key> entries, "
    "like examples/stacks/Pulumi.example.yaml"
)
_ANY_KEY: Final = config_key("<key>")
_SECURE_VALID: Final = "a plain value; only " + ", ".join(sorted(SECRET_KEYS)) + " may be secure:"


def file_issue(source: str, message: str, valid: str = _VALID_STACK_FILE) -> ConfigError:
    """A :class:`ConfigError` about the stack file as a whole."""
    return ConfigError([ConfigIssue(source, "", NO_VALUE, message, valid)])


# ---- reading the file ------------------------------------------------------------------------------


def _read_text(path: Path, source: str) -> str:
    """The file's text: a regular file within :data:`MAX_STACK_FILE_BYTES`, UTF-8."""
    try:
        data = read_regular_file(path, limit=MAX_STACK_FILE_BYTES)
    except FileNotFoundError:
        raise file_issue(
            source,
            "stack file not found",
            "an existing stacks/Pulumi.<stack>.yaml (copy examples/stacks/Pulumi.example.yaml)",
        ) from None
    except InputLimitError as exc:
        raise file_issue(
            source,
            str(exc),
            f"a regular file of at most {format_size(MAX_STACK_FILE_BYTES)}, "
            "like examples/stacks/Pulumi.example.yaml",
        ) from None
    except OSError as exc:
        raise file_issue(source, f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise file_issue(source, "is not UTF-8 text") from None


def _config_key_at(path: tuple[str | int, ...]) -> str:
    """The key of an issue at ``path`` in a stack file: ``config``'s namespaced key, else the file."""
    if len(path) >= 2 and path[0] == "config" and isinstance(path[1], str) and ":" in path[1]:
        return path[1]
    return ""


def _limit_error(exc: YamlLimitError, source: str) -> ConfigError:
    """A document beyond the loader's limits, at its line and key."""
    mark = exc.problem_mark
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    key = _config_key_at(exc.path)
    if not key and exc.path:
        where += f" under {show(exc.path[0])}"
    return ConfigError([ConfigIssue(source, key, NO_VALUE, f"{exc.problem}{where}", exc.valid)])


def _syntax_error(exc: yaml.YAMLError, source: str) -> ConfigError:
    """Invalid YAML (a duplicate key included), at its line."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc) or type(exc).__name__
    context = getattr(exc, "context", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    detail = f"{context}: {problem}" if context and "duplicate" not in problem else problem
    return file_issue(
        source, f"invalid YAML{where}: {clip(detail, 200)}", "valid YAML, each mapping key once"
    )


def read_stack_yaml(path: Path, source: str) -> object:
    """The stack file's YAML document (anything YAML holds); :class:`ConfigError` if it cannot be read."""
    text = _read_text(path, source)
    try:
        return load_yaml_text(text)
    except YamlLimitError as exc:
        raise _limit_error(exc, source) from None
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, source) from None


# ---- the file's structure --------------------------------------------------------------------------


def _document(path: Path, source: str) -> dict[object, object]:
    """The stack file's top-level mapping."""
    document = read_stack_yaml(path, source)
    if document is None:
        raise file_issue(source, "is empty")
    if not isinstance(document, dict):
        raise file_issue(source, f"top level is a {kind(document)}, not a mapping")
    return document


def _top_level_issues(document: dict[object, object], source: str) -> list[ConfigIssue]:
    """Issues for top-level keys a Pulumi stack file does not have."""
    issues: list[ConfigIssue] = []
    for key in document:
        if key not in STACK_FILE_KEYS:
            hint = did_you_mean(str(key), STACK_FILE_KEYS)
            message = f"unknown top-level key {show(key)}" + (f"; did you mean {hint}?" if hint else "")
            issues.append(
                ConfigIssue(source, "", NO_VALUE, message, "top-level keys " + ", ".join(STACK_FILE_KEYS))
            )
    return issues


def _config_mapping(
    document: dict[object, object], source: str, issues: list[ConfigIssue]
) -> dict[object, object]:
    """The ``config:`` mapping (empty when it has no value); raises with ``issues`` when there is none."""
    if "config" not in document:
        issues.append(ConfigIssue(source, "", NO_VALUE, "has no config: mapping", _VALID_STACK_FILE))
        raise ConfigError(issues)
    config = document["config"]
    if config is None:
        return {}
    if not isinstance(config, dict):
        message = f"config: is a {kind(config)}, not a mapping"
        issues.append(ConfigIssue(source, "", NO_VALUE, message, _VALID_STACK_FILE))
        raise ConfigError(issues)
    return config


# ---- the config entries ----------------------------------------------------------------------------


@dataclass
class _Entries:
    """What the ``config:`` entries yield: ``btp-infra`` values by bare key, issues, and the keys already
    reported (whose validation issues would only repeat them)."""

    source: str
    issues: list[ConfigIssue]
    data: dict[str, object] = field(default_factory=dict)
    reported: set[str] = field(default_factory=set)

    def refuse(self, name: str, message: str, valid: str) -> None:
        """Report ``btp-infra:<name>`` (its value a secret) and keep it out of validation."""
        self.issues.append(ConfigIssue(self.source, name, SECRET, message, valid))
        self.reported.add(name)


def _is_kubeconfig_content(value: object) -> bool:
    """True for a kubeconfig's content (YAML/JSON text, or a mapping), False for a path.

    pulumi-kubernetes takes either (``util.go``, ``parseKubeconfigString``: a path if it names a file, else
    content); a path is one line that is not a YAML/JSON mapping.
    """
    if not isinstance(value, str):
        return isinstance(value, dict | list)
    text = value.strip()
    if "\n" in text or text.startswith(("{", "[")):
        return True
    try:
        parsed = load_yaml_text(text)
    except (ValueError, yaml.YAMLError):
        return False
    return isinstance(parsed, dict)


def _read_own_key(entries: _Entries, name: str, value: object) -> None:
    """One ``btp-infra:<name>`` entry: encrypted only if secret, never a plaintext secret."""
    if is_secure(value):
        if name in SECRET_KEYS or name not in CONFIG_KEYS:
            entries.data[name] = EncryptedSecret()
        else:
            entries.refuse(name, "is encrypted (secure:) but is not secret", _SECURE_VALID)
    elif name == "cisServiceKey" and value is not None:
        entries.refuse(
            name,
            "is in plain text in the stack file",
            "an encrypted value: pulumi config set --secret btp-infra:cisServiceKey < key.json",
        )
    elif name == "kubeconfig" and value is not None and _is_kubeconfig_content(value):
        entries.refuse(
            name,
            "is a kubeconfig's content in plain text in the stack file",
            "a path (plain text is fine), or the content encrypted: "
            "pulumi config set --secret btp-infra:kubeconfig < kubeconfig.yaml",
        )
    else:
        entries.data[name] = value


def _no_namespace_issue(source: str, key: str, value: object) -> ConfigIssue:
    hint = f"; did you mean {config_key(key)}?" if key in CONFIG_KEYS else ""
    return ConfigIssue(
        source,
        "",
        secure_safe(value, key),
        f"config key {show(key)} has no namespace{hint}",
        f"namespaced keys: {_ANY_KEY}",
    )


def _unknown_namespace_issue(source: str, key: str, value: object) -> ConfigIssue:
    namespace, _, name = key.partition(":")
    hint = did_you_mean(namespace, [CONFIG_NAMESPACE, *PASSTHROUGH_NAMESPACES])
    suggestion = f"{hint}:{clip(name)}" if hint else None
    return ConfigIssue(
        source,
        key,
        secure_safe(value),
        f"unknown config namespace {show(namespace)}"
        + (f"; did you mean {suggestion}?" if suggestion else ""),
        f"{_ANY_KEY} (kubernetes:* and pulumi:* keys are passed through)",
    )


def _read_entry(entries: _Entries, full_key: object, value: object) -> None:
    """One ``config:`` entry: a ``btp-infra`` key, a passed-through namespace, or an issue."""
    source = entries.source
    if not isinstance(full_key, str):
        message = f"config key {show(full_key)} is not a string"
        entries.issues.append(ConfigIssue(source, "", NO_VALUE, message, _ANY_KEY))
        return
    namespace, sep, name = full_key.partition(":")
    if not sep:
        entries.issues.append(_no_namespace_issue(source, full_key, value))
    elif full_key in IGNORED_KUBERNETES_KEYS:
        entries.issues.append(kubernetes_key_issue(source, full_key, value))
    elif namespace in PASSTHROUGH_NAMESPACES:
        pass
    elif namespace != CONFIG_NAMESPACE:
        entries.issues.append(_unknown_namespace_issue(source, full_key, value))
    else:
        _read_own_key(entries, name, value)


def load_stack_file(path: str | Path) -> TenantConfig:
    """Read and validate ``stacks/Pulumi.<stack>.yaml`` offline. Raises :class:`ConfigError`.

    ``secure:`` values are kept as :class:`EncryptedSecret` ("present, secret"); only :data:`SECRET_KEYS` may
    be secure, and ``cisServiceKey`` must be. ``kubernetes:*`` and ``pulumi:*`` keys are ignored.
    """
    source = str(path)
    document = _document(Path(path), source)
    issues = _top_level_issues(document, source)
    config = _config_mapping(document, source, issues)
    entries = _Entries(source, issues)
    for full_key, value in config.items():
        _read_entry(entries, full_key, value)
    return validate_target(entries.data, source=source, issues=entries.issues, reported=entries.reported)

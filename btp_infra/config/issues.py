"""Config problems: what one looks like, how it renders, and how validators report them.

Owns: :class:`ConfigIssue` (one problem: file, key, value, what is wrong, what is valid; secrets removed on
construction), :class:`ConfigError` (every issue of a load, one line each), and :class:`Invalid` /
:class:`InvalidMany`, which the models' validators raise and :mod:`btp_infra.config.translate` turns into
issues.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import SecretStr

from btp_infra.config.redaction import EncryptedSecret, is_secret_key, redact_value, strings_in, without
from btp_infra.config.text import KEY_WIDTH, NO_VALUE, SECRET, clip, show
from btp_infra.conventions import config_key


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in one stack's config.

    ``key`` is the path below the ``btp-infra:`` namespace (``entitlements[1].amount``); a key that already
    carries a namespace (``btp-infr:namespace``) is shown as is; ``""`` means the file as a whole.
    With ``secret=True`` the value is replaced by ``[secret]`` on construction and never kept.
    """

    source: str
    key: str
    value: object = NO_VALUE
    message: str = ""
    valid: str = ""
    secret: bool = False

    def __post_init__(self) -> None:
        # Before anything renders (or truncates) the value: a secret is never kept, whole or in part.
        hidden: object
        if self.secret or isinstance(self.value, SecretStr | EncryptedSecret) or is_secret_key(self.key):
            hidden, removed = SECRET, strings_in(self.value)
            object.__setattr__(self, "secret", True)
        else:
            hidden, removed = redact_value(self.value)
        if removed:
            object.__setattr__(self, "message", without(self.message, removed))
            object.__setattr__(self, "valid", without(self.valid, removed))
        object.__setattr__(self, "value", hidden)

    @property
    def qualified_key(self) -> str:
        """``btp-infra:<key>``, or the key as given when it already names a namespace."""
        if not self.key:
            return ""
        head = re.split(r"[.\[]", self.key, maxsplit=1)[0]
        return self.key if ":" in head else config_key(self.key)

    def render(self) -> str:
        """``<file>: btp-infra:<key>: <value> — <what is wrong>; valid: <what is valid>``."""
        parts = [self.source]
        if self.key:
            parts.append(clip(self.qualified_key, KEY_WIDTH))
        head = ": ".join(parts)
        text = self.message if self.value is NO_VALUE else f"{show(self.value)} — {self.message}"
        line = f"{head}: {text}"
        return f"{line}; valid: {self.valid}" if self.valid else line

    def __str__(self) -> str:
        return self.render()


class ConfigError(Exception):
    """Invalid tenant config; ``str()`` renders one line per issue."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues: list[ConfigIssue] = list(issues)
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join(issue.render() for issue in self.issues)

    def __str__(self) -> str:
        return self.render()


class Invalid(ValueError):
    """Raised by validators: what is wrong and what is valid, optionally for a sub-key and with its value."""

    def __init__(
        self, message: str, valid: str, *, key: Sequence[str | int] = (), value: object = NO_VALUE
    ) -> None:
        super().__init__(message)
        self.message = message
        self.valid = valid
        self.key = tuple(key)
        self.value = value


class InvalidMany(ValueError):
    """Several :class:`Invalid` from one validator."""

    def __init__(self, problems: Sequence[Invalid]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = list(problems)


def raise_all(problems: Sequence[Invalid]) -> None:
    """Raise ``problems``: nothing when empty, the one :class:`Invalid`, or :class:`InvalidMany`."""
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise InvalidMany(problems)

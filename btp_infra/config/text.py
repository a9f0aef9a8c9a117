"""How values, keys and suggestions appear in config messages.

Owns: the placeholder values of an issue (:data:`NO_VALUE`, :data:`MISSING`, :data:`SECRET`), bounded
rendering of values and keys, the kind of a value in words, and the did-you-mean suggestion for a misspelt
key.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Final

from btp_infra.limits import bounded_repr

VALUE_WIDTH: Final = 60
"""How many characters of a value a message shows."""
KEY_WIDTH: Final = 100
"""How many characters of a key a message shows."""


class _Marker:
    """A named placeholder value (renders as its name)."""

    def __init__(self, text: str) -> None:
        self._text = text

    def __repr__(self) -> str:
        return self._text


NO_VALUE: Final = _Marker("(no value)")
"""The issue is about the file or a key, not about a value."""
MISSING: Final = _Marker("(missing)")
"""The key is required but absent."""
SECRET: Final = _Marker("[secret]")
"""Stands in for a secret value; the real value is never stored in an issue."""


def show(value: object) -> str:
    """A value's repr, truncated, for messages (:class:`~btp_infra.config.issues.ConfigIssue` has already
    replaced secrets)."""
    return bounded_repr(value, VALUE_WIDTH)


def clip(text: str, width: int = VALUE_WIDTH) -> str:
    """Plain text (a key, a name) cut to ``width`` characters, ending in ``…`` when cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


def kind(value: object) -> str:
    """The kind of a YAML/JSON value in words (``list``, ``string``, ``boolean``, ``number``, …)."""
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to a misspelt key (case, snake_case and typos), or None."""
    options = list(candidates)
    lowered = {c.lower(): c for c in options}
    if word.lower() in lowered:
        return lowered[word.lower()]
    camel = re.sub(r"[_-]([a-z])", lambda m: m.group(1).upper(), word)
    if camel in options:
        return camel
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[close[0]] if close else None

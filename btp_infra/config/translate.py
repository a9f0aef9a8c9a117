"""Pydantic's validation errors in btp-infra's words: one :class:`~btp_infra.config.issues.ConfigIssue` each.

Owns: the messages for pydantic's error types, finding the field (and its "valid" text) an error is at,
rendering an error location as a key path (``entitlements[1].amount``), and which locations hold secrets.
Never renders pydantic's input dump.
"""

from __future__ import annotations

import json
import re
import types
from collections.abc import Collection, Sequence
from typing import Any, Final, Union, get_args, get_origin

from pydantic import BaseModel, RootModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from btp_infra.config.issues import ConfigIssue, Invalid, InvalidMany
from btp_infra.config.keys import SECRET_KEYS
from btp_infra.config.models import TenantConfig
from btp_infra.config.text import MISSING, NO_VALUE, SECRET, did_you_mean

_TYPE_MESSAGES: Final = {
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_parsing": "must be a whole number",
    "bool_type": "must be true or false",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "list_type": "must be a list",
    "literal_error": "is not one of the allowed values",
    "missing": "is required",
    "none_required": "must be empty",
}


def _unwrap(annotation: Any) -> Any:
    """Strip ``X | None``."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def field_at(loc: Sequence[str | int]) -> tuple[type[BaseModel] | None, FieldInfo | None]:
    """The model owning the last named key of ``loc`` and that key's field (None if unknown)."""
    current: Any = TenantConfig
    owner: type[BaseModel] | None = None
    info: FieldInfo | None = None
    for item in loc:
        current = _unwrap(current)
        if get_origin(current) is None and isinstance(current, type) and issubclass(current, RootModel):
            current = _unwrap(current.model_fields["root"].annotation)
        if get_origin(current) is list:
            current = get_args(current)[0]
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        elif isinstance(current, type) and issubclass(current, BaseModel):
            if not isinstance(item, str):
                break
            owner = current
            by_alias = {(f.alias or n): f for n, f in current.model_fields.items()}
            info = by_alias.get(item)
            if info is None:
                return owner, None
            current = info.annotation
        else:
            break
    return owner, info


def valid_text(key: str) -> str:
    """The "valid" text of a top-level ``btp-infra:`` key (its field's description; "" if unknown)."""
    _, info = field_at((key,))
    return (info.description or "") if info else ""


def _format_loc(loc: Sequence[str | int]) -> str:
    """``('entitlements', 1, 'amount')`` → ``entitlements[1].amount``; odd keys are quoted."""
    text = ""
    for item in loc:
        if isinstance(item, int):
            text += f"[{item}]"
        elif not text:
            text = item
        elif re.fullmatch(r"[A-Za-z0-9_-]+", item):
            text += f".{item}"
        else:
            text += f"[{json.dumps(item)}]"
    return text


def _is_secret_loc(loc: Sequence[str | int], hidden: Collection[str]) -> bool:
    head = loc[0] if loc else ""
    return isinstance(head, str) and (head in SECRET_KEYS or head in hidden)


def _validator_issues(
    err: ErrorDetails, error: Invalid | InvalidMany, *, source: str, hidden: Collection[str]
) -> list[ConfigIssue]:
    """Issues for what one of our validators raised (each problem at its own sub-key)."""
    loc: tuple[str | int, ...] = tuple(err["loc"])
    raw: object = err.get("input", NO_VALUE)
    problems = error.problems if isinstance(error, InvalidMany) else [error]
    issues: list[ConfigIssue] = []
    for problem in problems:
        where = loc + problem.key
        value = raw if problem.value is NO_VALUE else problem.value
        issues.append(
            ConfigIssue(
                source,
                _format_loc(where),
                value,
                problem.message,
                problem.valid,
                secret=_is_secret_loc(where, hidden) or value is SECRET,
            )
        )
    return issues


def _unknown_key_issue(err: ErrorDetails, *, source: str, hidden: Collection[str]) -> ConfigIssue:
    """The issue for a key no model knows, with the closest known key."""
    loc: tuple[str | int, ...] = tuple(err["loc"])
    owner, _ = field_at(loc)
    known = [(f.alias or n) for n, f in owner.model_fields.items()] if owner else []
    word = str(loc[-1]) if loc else ""
    hint = did_you_mean(word, known)
    message = "is not a known key" + (f"; did you mean {hint}?" if hint else "")
    secret = _is_secret_loc(loc, hidden) or (hint in SECRET_KEYS and len(loc) == 1)
    return ConfigIssue(
        source,
        _format_loc(loc),
        err.get("input", NO_VALUE),
        message,
        "one of: " + ", ".join(known),
        secret=secret,
    )


def _type_issue(err: ErrorDetails, *, source: str, hidden: Collection[str]) -> ConfigIssue:
    """The issue for one of pydantic's own errors (a wrong type, a missing key, a value not allowed)."""
    loc: tuple[str | int, ...] = tuple(err["loc"])
    kind = err["type"]
    _, info = field_at(loc)
    valid = info.description if info is not None and info.description else ""
    if kind == "literal_error" and not valid:
        valid = str((err.get("ctx") or {}).get("expected", ""))
    message = _TYPE_MESSAGES.get(kind, err["msg"])
    value = MISSING if kind == "missing" else err.get("input", NO_VALUE)
    return ConfigIssue(source, _format_loc(loc), value, message, valid, secret=_is_secret_loc(loc, hidden))


def translate(exc: ValidationError, *, source: str, hidden: Collection[str]) -> list[ConfigIssue]:
    """ConfigIssues for a pydantic ValidationError (messages in our words, never its input dump)."""
    issues: list[ConfigIssue] = []
    for err in exc.errors(include_url=False):
        error = (err.get("ctx") or {}).get("error")
        if isinstance(error, Invalid | InvalidMany):
            issues.extend(_validator_issues(err, error, source=source, hidden=hidden))
        elif err["type"] == "extra_forbidden":
            issues.append(_unknown_key_issue(err, source=source, hidden=hidden))
        else:
            issues.append(_type_issue(err, source=source, hidden=hidden))
    return issues

"""Service Manager ``fieldQuery`` / ``labelQuery`` filters and paging (btp-api.md §B.6, §B.7).

Grammar: ``<criterion> [and <criterion>]...``; a criterion is ``<left> <op> <value>`` or
``<left> in|notin (<value>, ...)``; strings in single quotes with ``''`` for a quote, other literals unquoted.
Field paths may reach into objects with ``/`` (``context/subaccount_id``). Paging follows the open-source
Service Manager: ``max_items`` default 50, capped at 200, ``0`` = count only; ``token`` is opaque.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from btp_infra.sandbox.errors import sm_error

FIELD_OPERATORS = frozenset({"eq", "ne", "en", "in", "notin", "gt", "ge", "lt", "le", "contains"})
LABEL_OPERATORS = frozenset({"eq", "ne", "en", "in", "notin"})
DEFAULT_PAGE = 50
MAX_PAGE = 200

_TOKENS = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<punct>[(),])|(?P<word>[^\s(),']+))")


@dataclass(frozen=True)
class Criterion:
    left: str
    op: str
    values: tuple[str, ...]


class QuerySyntaxError(ValueError):
    pass


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKENS.match(text, pos)
        if match is None or match.end() == pos:
            raise QuerySyntaxError(f"unexpected character at position {pos}")
        kind = match.lastgroup or ""
        raw = match.group(kind)
        tokens.append((kind, raw[1:-1].replace("''", "'") if kind == "str" else raw))
        pos = match.end()
    return tokens


def parse(text: str, operators: frozenset[str]) -> list[Criterion]:
    """Parse a query; raises :class:`QuerySyntaxError` (unknown operator, bad quoting, missing value...)."""
    tokens = _tokenize(text)
    criteria: list[Criterion] = []
    i = 0

    def take(kind: str | None = None) -> str:
        nonlocal i
        if i >= len(tokens):
            raise QuerySyntaxError("unexpected end of query")
        tkind, value = tokens[i]
        if kind is not None and tkind != kind:
            raise QuerySyntaxError(f"expected {kind} but found {value!r}")
        i += 1
        return value

    def literal() -> str:
        if i < len(tokens) and tokens[i][0] in ("str", "word"):
            return take()
        raise QuerySyntaxError("expected a value")

    while True:
        left = take("word")
        op = take("word").lower()
        if op not in operators:
            raise QuerySyntaxError(f"unsupported operator {op!r}")
        if op in ("in", "notin"):
            if take("punct") != "(":
                raise QuerySyntaxError(f"'{op}' needs a parenthesised list")
            values = [literal()]
            while (sep := take("punct")) == ",":
                values.append(literal())
            if sep != ")":
                raise QuerySyntaxError("unclosed value list")
        else:
            values = [literal()]
        criteria.append(Criterion(left, op, tuple(values)))
        if i == len(tokens):
            return criteria
        if take("word").lower() != "and":
            raise QuerySyntaxError("criteria must be joined with 'and'")


def _scalar(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _compare(left: str, right: str) -> int:
    try:
        a, b = float(left), float(right)
    except ValueError:
        a2, b2 = left, right
        return (a2 > b2) - (a2 < b2)
    return (a > b) - (a < b)


def _field_holds(value: str | None, c: Criterion) -> bool:
    if c.op == "in":
        return value in c.values
    if c.op == "notin":
        return value not in c.values
    rhs = c.values[0]
    if c.op == "eq":
        return value == rhs
    if c.op == "ne":
        return value != rhs
    if c.op == "en":
        return value is None or value == rhs
    if value is None:
        return False
    if c.op == "contains":
        return rhs in value
    order = _compare(value, rhs)
    return {"gt": order > 0, "ge": order >= 0, "lt": order < 0, "le": order <= 0}[c.op]


def _label_holds(values: Sequence[str] | None, c: Criterion) -> bool:
    present = set(values or ())
    if c.op in ("eq", "in"):
        return bool(present & set(c.values))
    if c.op in ("ne", "notin"):
        return not present & set(c.values)
    return not present or c.values[0] in present  # en


def _resolve(item: Mapping[str, Any], path: str) -> Any:
    value: Any = item
    for part in path.split("/"):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def build_filter(
    field_query: str | None, label_query: str | None, fields: frozenset[str]
) -> Callable[[Mapping[str, Any]], bool]:
    """A predicate over rendered entities; raises 400 InvalidFieldQuery / InvalidLabelQuery."""
    try:
        field_criteria = parse(field_query, FIELD_OPERATORS) if field_query else []
    except QuerySyntaxError as exc:
        raise sm_error(400, f"invalid field query: {exc}", "InvalidFieldQuery") from None
    for c in field_criteria:
        if c.left.split("/")[0] not in fields:
            raise sm_error(400, f"unsupported field query key: {c.left}", "InvalidFieldQuery")
    try:
        label_criteria = parse(label_query, LABEL_OPERATORS) if label_query else []
    except QuerySyntaxError as exc:
        raise sm_error(400, f"invalid label query: {exc}", "InvalidLabelQuery") from None

    def predicate(item: Mapping[str, Any]) -> bool:
        labels = item.get("labels") or {}
        return all(_field_holds(_scalar(_resolve(item, c.left)), c) for c in field_criteria) and all(
            _label_holds(labels.get(c.left), c) for c in label_criteria
        )

    return predicate


def _page_size(max_items: str | None) -> int:
    if max_items is None:
        return DEFAULT_PAGE
    try:
        size = int(max_items)
    except ValueError:
        size = -1
    if size < 0:
        raise sm_error(400, "max_items must be a non-negative integer")
    return min(size, MAX_PAGE)


def _decode_token(token: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise sm_error(400, "invalid paging token") from None


def paginate(
    items: Sequence[tuple[int, dict[str, Any]]], max_items: str | None, token: str | None
) -> dict[str, Any]:
    """Page ``(sequence, item)`` pairs sorted by sequence: ``{"token"?, "num_items", "items"}``."""
    size = _page_size(max_items)
    total = len(items)
    if token:
        after = _decode_token(token)
        items = [pair for pair in items if pair[0] > after]
    page = list(items[:size])
    result: dict[str, Any] = {"num_items": total, "items": [item for _, item in page]}
    if size and len(items) > size:
        result["token"] = base64.urlsafe_b64encode(str(page[-1][0]).encode()).decode()
    return result

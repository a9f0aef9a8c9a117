"""Bounded YAML parsing of stack files and of YAML found inside config values.

Owns: the size limits of a stack file (:data:`MAX_STACK_FILE_BYTES`, :data:`MAX_YAML_VALUES`,
:data:`MAX_YAML_TEXT`), the loader that refuses duplicate keys and bounds the work of every reader, and
:func:`load_yaml_text`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import yaml

from btp_infra.config.text import clip, show
from btp_infra.limits import MAX_INT_DIGITS, MAX_NESTING, MIB, format_size, int_too_large

MAX_STACK_FILE_BYTES: Final = 1 * MIB
"""The largest stack file read. Real ones are a few KiB (an encrypted kubeconfig included); YAML is parsed in
pure Python at well under 1 MiB/s for dense input, so bigger files are refused before parsing."""
MAX_YAML_VALUES: Final = 10_000
"""The most values (scalars, mappings, lists) a stack file may hold, counting every alias (``*name``) as the
whole value it stands for: a few hundred bytes of nested aliases (a "billion laughs") expand to billions of
values for every reader that walks them. Real stack files hold fewer than 200. Anchors and aliases are
allowed within that budget."""
MAX_YAML_TEXT: Final = 2 * MAX_STACK_FILE_BYTES
"""The most scalar text a stack file may hold with aliases expanded: aliases of one long string must not make
every reader of the values (validation, redaction, rendering) read it thousands of times."""


class YamlLimitError(yaml.composer.ComposerError):
    """A YAML document beyond the loader's limits (or with a scalar that cannot be converted).

    ``path`` leads from the document root to the offending node (mapping keys as text, list positions)."""

    def __init__(self, problem: str, mark: Any, path: Sequence[str | int], valid: str) -> None:
        super().__init__(None, None, problem, mark)
        self.path = tuple(path)
        self.valid = valid


_VALID_YAML_VALUES: Final = (
    f"at most {MAX_YAML_VALUES} values in a stack file, counting each alias (*name) as the whole value it "
    "stands for"
)
_VALID_YAML_TEXT: Final = (
    f"at most {format_size(MAX_YAML_TEXT)} of text in a stack file, counting each alias (*name) as the whole "
    "value it stands for"
)
_VALID_YAML_NESTING: Final = f"mappings and lists nested at most {MAX_NESTING} levels deep"
_INT_TAG: Final = "tag:yaml.org,2002:int"
_TIMESTAMP_TAG: Final = "tag:yaml.org,2002:timestamp"


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys instead of keeping the last one, and that bounds the
    work any reader of the document can be made to do: at most :data:`MAX_YAML_VALUES` values with aliases
    expanded, at most :data:`MAX_NESTING` levels of mappings and lists, integers of at most
    :data:`~btp_infra.limits.MAX_INT_DIGITS` digits, and timestamps that are real dates. Limits are checked
    while composing, before anything is constructed; violations are :class:`YamlLimitError`.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        # Values and scalar characters composed so far, each alias counted as its anchor's whole value.
        self._values = 0
        self._chars = 0
        self._sizes: dict[int, tuple[int, int]] = {}  # id(anchored node) -> its (values, characters)
        self._path: list[str | int] = []

    def _fail(self, problem: str, mark: Any, valid: str) -> YamlLimitError:
        return YamlLimitError(problem, mark, self._path, valid)

    def _count(self, values: int, chars: int, mark: Any) -> None:
        self._values += values
        self._chars += chars
        aliased = "once its aliases (*name) are expanded" if self._sizes else "in all"
        if self._values > MAX_YAML_VALUES:
            raise self._fail(f"has more than {MAX_YAML_VALUES} values {aliased}", mark, _VALID_YAML_VALUES)
        if self._chars > MAX_YAML_TEXT:  # only reachable through aliases: the file itself is smaller
            text = format_size(MAX_YAML_TEXT)
            raise self._fail(f"has more than {text} of text {aliased}", mark, _VALID_YAML_TEXT)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if isinstance(index, yaml.ScalarNode):
            self._path.append(clip(str(index.value)))
        elif isinstance(index, int):
            self._path.append(index)
        elif parent is not None:
            self._path.append("(a key)")
        try:
            return self._compose_bounded(parent, index)
        finally:
            if parent is not None:
                self._path.pop()

    def _compose_bounded(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)
            # An alias of an unfinished anchor (a recursive node) counts 1; the constructor rejects it.
            self._count(*self._sizes.get(id(node), (1, 0)), event.start_mark)
            return node
        if isinstance(event, yaml.CollectionStartEvent) and len(self._path) >= MAX_NESTING:
            problem = f"is nested more than {MAX_NESTING} levels deep"
            raise self._fail(problem, event.start_mark, _VALID_YAML_NESTING)
        before = (self._values, self._chars)
        self._count(1, len(event.value) if isinstance(event, yaml.ScalarEvent) else 0, event.start_mark)
        node = super().compose_node(parent, index)
        if isinstance(event, yaml.NodeEvent) and event.anchor is not None and node is not None:
            self._sizes[id(node)] = (self._values - before[0], self._chars - before[1])
        if isinstance(node, yaml.ScalarNode) and node.tag in (_INT_TAG, _TIMESTAMP_TAG):
            self._check_scalar(node)
        return node

    def _check_scalar(self, node: yaml.ScalarNode) -> None:
        """Integers Python cannot convert or show (beyond 4300 digits, also hex and base 60) and impossible
        dates (``2001-13-45``) fail here, with their place, instead of as a ValueError while constructing."""
        if node.tag == _TIMESTAMP_TAG:
            try:
                self.construct_yaml_timestamp(node)
            except (ValueError, OverflowError):
                valid = "a real date (2024-02-29) or a quoted string"
                raise self._fail("is not a real date or time", node.start_mark, valid) from None
            return
        too_long = self._fail(
            f"is an integer of more than {MAX_INT_DIGITS} digits",
            node.start_mark,
            f"an integer of at most {MAX_INT_DIGITS} digits (quote it to make it a string)",
        )
        if len(node.value) > 4 * MAX_INT_DIGITS:  # beyond any in-limit form (binary, base 60): not converted
            raise too_long
        try:
            value = self.construct_yaml_int(node)
        except ValueError:
            raise too_long from None
        if int_too_large(value):
            raise too_long


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[object] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:
            continue  # unhashable: SafeLoader reports it
        if duplicate:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {show(key)}",
                key_node.start_mark,
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def load_yaml_text(text: str) -> object:
    """``text`` parsed like a stack file: safe tags only, each mapping key once, and within the limits of
    :class:`_UniqueKeyLoader` (values with aliases expanded, nesting, integers, dates).

    Raises ``yaml.YAMLError`` (limits included), never RecursionError or ValueError: also for YAML found
    inside values (a kubeconfig), which must not hang or crash whoever looks into it.
    """
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:  # not expected within the nesting limit; never a traceback either way
        raise yaml.YAMLError(f"is nested more than {MAX_NESTING} levels deep") from None

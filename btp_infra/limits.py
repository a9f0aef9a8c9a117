"""Limits on untrusted input: file kinds and sizes, JSON nesting and numbers, bounded value rendering.

Stack files, service keys, keyring entries and policy configs come from people and from pull requests (also
from forks). Whatever they hold, reading them must take bounded time and memory and fail with one line:

- :func:`read_regular_file` reads regular files only (never blocks on a FIFO, never streams ``/dev/zero``),
  at most ``limit`` bytes; :func:`read_stream` reads at most ``limit`` bytes of stdin;
- :func:`loads_json` parses JSON with at most :data:`MAX_NESTING` levels and integers of at most
  :data:`MAX_INT_DIGITS` digits (Python refuses to convert longer ones, with a ``ValueError``);
- :func:`bounded_repr` renders any value in at most ``width`` characters without building its full
  ``repr`` (which for a shared-reference bomb would never finish, and for a huge integer raises).

Errors are :class:`InputLimitError`, whose text says what is wrong (``is a FIFO, not a regular file``);
the caller prefixes the source (file, env var, keyring profile). No message ever quotes the input.
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Iterator
from typing import IO, Any, Final

__all__ = [
    "KIB",
    "MAX_INT_DIGITS",
    "MAX_KEY_BYTES",
    "MAX_NESTING",
    "MAX_POLICY_CONFIG_BYTES",
    "MIB",
    "InputLimitError",
    "bounded_repr",
    "check_nesting",
    "file_kind",
    "format_size",
    "int_too_large",
    "loads_json",
    "read_regular_file",
    "read_stream",
    "too_deep",
    "too_many_digits",
]

KIB: Final = 1024
MIB: Final = 1024 * KIB
MAX_NESTING: Final = 32
"""Deepest nesting of mappings and lists accepted in any config, key or policy document (they need < 6)."""
MAX_KEY_BYTES: Final = 64 * KIB
"""The largest service key or credentials document accepted (file, env var, keyring entry, stdin): a cis
key is about 2 KiB, x509 binding credentials with their certificate chain about 10 KiB."""
MAX_POLICY_CONFIG_BYTES: Final = 1 * MIB
"""The largest ``--policy-config`` file read (``policies/config.example.json`` is about 2 KiB)."""
MAX_INT_DIGITS: Final = 4300
"""Longest integer accepted, in decimal digits: Python's own int/str conversion limit (``sys.int_info``)."""
_MAX_INT_BITS: Final = math.ceil(MAX_INT_DIGITS * math.log2(10))
_CHUNK: Final = 64 * KIB


class InputLimitError(ValueError):
    """Input refused for its kind, size, nesting or numbers; ``str()`` is the reason, without the input."""


def format_size(size: int) -> str:
    """``1048576`` → ``1 MiB``, ``65536`` → ``64 KiB``, ``1536`` → ``1.5 KiB``, ``10`` → ``10 bytes``."""
    for unit, factor in (("MiB", MIB), ("KiB", KIB)):
        if size >= factor:
            amount = size / factor
            return f"{amount:.0f} {unit}" if amount.is_integer() else f"{amount:.1f} {unit}"
    return f"{size} bytes"


def file_kind(mode: int) -> str:
    """What a non-regular file is, for messages: ``a FIFO``, ``a character device``, ``a directory``, …"""
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def _not_regular(mode: int) -> InputLimitError:
    return InputLimitError(f"is {file_kind(mode)}, not a regular file")


def _too_large(limit: int, size: int | None = None) -> InputLimitError:
    actual = f"is {format_size(size)}, " if size is not None else ""
    return InputLimitError(f"{actual}larger than the {format_size(limit)} limit")


def read_regular_file(path: str | os.PathLike[str], *, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes.

    Raises :class:`InputLimitError` for a FIFO, device, socket or directory (checked before opening, so that
    opening never blocks and never touches a device) and for a file over ``limit``; ``OSError`` (e.g.
    ``FileNotFoundError``, ``PermissionError``) when the file cannot be read.
    """
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise _not_regular(info.st_mode)
    if info.st_size > limit:
        raise _too_large(limit, info.st_size)
    # O_NONBLOCK: a FIFO swapped in after the stat still does not block the open.
    flags = os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(info.st_mode)
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    finally:
        os.close(fd)
    if total > limit:  # it grew since the stat (or is a /proc-like file that reports size 0)
        raise _too_large(limit)
    return b"".join(chunks)


def read_stream(stream: IO[bytes], *, limit: int) -> bytes:
    """At most ``limit`` bytes of a binary stream (stdin) up to its end; :class:`InputLimitError` beyond."""
    chunks: list[bytes] = []
    total = 0
    while total <= limit:
        chunk = stream.read(min(_CHUNK, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    if total > limit:
        raise _too_large(limit)
    return b"".join(chunks)


def int_too_large(value: int) -> bool:
    """True for an integer with more than :data:`MAX_INT_DIGITS` decimal digits (checked on its bits)."""
    return value.bit_length() > _MAX_INT_BITS


def too_many_digits() -> InputLimitError:
    return InputLimitError(f"has an integer of more than {MAX_INT_DIGITS} digits")


def too_deep(limit: int = MAX_NESTING) -> InputLimitError:
    return InputLimitError(f"is nested more than {limit} levels deep")


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise too_many_digits()
    return int(text)


def check_nesting(value: Any, *, limit: int = MAX_NESTING) -> None:
    """Raise :class:`InputLimitError` when mappings/lists in ``value`` nest deeper than ``limit`` levels.

    Iterative, and each container is visited once (shared references cost nothing extra)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    seen: set[int] = set()
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list | tuple) or id(item) in seen:
            continue
        seen.add(id(item))
        if depth + 1 > limit:
            raise too_deep(limit)
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children)


def loads_json(text: str | bytes, *, max_depth: int = MAX_NESTING) -> Any:
    """``json.loads`` bounded: :class:`InputLimitError` for nesting beyond ``max_depth`` or an integer of
    more than :data:`MAX_INT_DIGITS` digits; ``json.JSONDecodeError`` for invalid JSON (its position is safe
    to show, the text is not)."""
    try:
        document = json.loads(text, parse_int=_parse_int)
    except RecursionError:
        raise too_deep(max_depth) from None
    check_nesting(document, limit=max_depth)
    return document


# ----------------------------------------------------------------------------------------------------------
# Bounded rendering
# ----------------------------------------------------------------------------------------------------------


def bounded_repr(value: object, width: int = 60) -> str:
    """``repr(value)`` cut to at most ``width`` characters (ending in ``…`` when cut), computed lazily.

    Strings and bytes are sliced before ``repr``; lists, tuples, sets and mappings are rendered item by item
    and only until ``width`` is reached, so neither a huge value nor a shared-reference bomb is ever rendered
    whole; integers beyond :data:`MAX_INT_DIGITS` digits (which ``repr`` refuses) are described instead.
    """
    parts: list[str] = []
    used = 0
    for piece in _pieces(value, width + 1):
        parts.append(piece)
        used += len(piece)
        if used > width:
            break
    text = "".join(parts)
    return text if len(text) <= width else text[: width - 1] + "…"


def _pieces(value: object, budget: int) -> Iterator[str]:
    """The fragments of ``repr(value)``, in order; the consumer stops once it has ``budget`` characters."""
    if isinstance(value, str | bytes | bytearray):
        yield repr(value[: budget + 1]) if len(value) > budget else repr(value)
    elif isinstance(value, bool) or value is None:
        yield repr(value)
    elif isinstance(value, int):
        if int_too_large(value):
            digits = math.floor(value.bit_length() * math.log10(2)) + 1
            yield f"<an integer of about {digits} digits>"
        else:
            yield repr(value)
    elif isinstance(value, list | tuple | set | frozenset):
        if isinstance(value, set | frozenset) and not value:
            yield f"{type(value).__name__}()"
            return
        opening, closing = ("[", "]") if isinstance(value, list) else ("(", ")")
        if isinstance(value, set | frozenset):
            opening, closing = "{", "}"
        yield opening
        for index, item in enumerate(value):
            if index:
                yield ", "
            yield from _pieces(item, budget)
        if isinstance(value, tuple) and len(value) == 1:
            yield ","
        yield closing
    elif isinstance(value, dict):
        yield "{"
        for index, (key, item) in enumerate(value.items()):
            if index:
                yield ", "
            yield from _pieces(key, budget)
            yield ": "
            yield from _pieces(item, budget)
        yield "}"
    else:
        yield repr(value)

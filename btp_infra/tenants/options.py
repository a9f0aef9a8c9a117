"""Command-line spellings of the structured options of ``tenant add``, as plain data for :func:`add_tenant`.

Owns only the syntax (``KEY=VALUE``, ``service/plan[=amount]``, ``section.resource=quantity``); every value is
validated by the config model when the stack file is checked. Errors are :class:`ValueError` with one line
naming the option, the text and the expected form (a CLI turns them into usage errors).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

__all__ = ["parse_entitlement", "parse_limit_range", "parse_pairs", "parse_x509"]

_ENTITLEMENT_RE: Final = re.compile(r"(?P<service>[^/=\s]+)/(?P<plan>[^/=\s]+)(?:=(?P<amount>[0-9]+))?")


def _shown(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:59] + "…")


def parse_pairs(values: Iterable[str], *, option: str) -> dict[str, str]:
    """``["a=1", "b=x"]`` → ``{"a": "1", "b": "x"}`` (values stay strings; each key once)."""
    result: dict[str, str] = {}
    for text in values:
        key, sep, value = text.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"{option}: {_shown(text)} is not KEY=VALUE")
        if key in result:
            raise ValueError(f"{option}: {key!r} is given twice; valid: each key once")
        result[key] = value
    return result


def parse_entitlement(text: str, *, option: str = "--entitlement") -> dict[str, object]:
    """``service/plan`` or ``service/plan=amount`` → ``{"service", "plan"[, "amount"]}``."""
    match = _ENTITLEMENT_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"{option}: {_shown(text)} is not SERVICE/PLAN or SERVICE/PLAN=AMOUNT (e.g. hana-cloud/hana=1)"
        )
    entry: dict[str, object] = {"service": match["service"], "plan": match["plan"]}
    if match["amount"] is not None:
        entry["amount"] = int(match["amount"])
    return entry


def parse_limit_range(values: Iterable[str], *, option: str = "--limit") -> dict[str, dict[str, str]]:
    """``["default.cpu=500m", "max.cpu=2"]`` → ``{"default": {"cpu": "500m"}, "max": {"cpu": "2"}}``."""
    result: dict[str, dict[str, str]] = {}
    for key, value in parse_pairs(values, option=option).items():
        section, dot, resource = key.partition(".")
        if not dot or not section or not resource:
            raise ValueError(
                f"{option}: {_shown(key)} is not SECTION.RESOURCE=QUANTITY (e.g. default.cpu=500m)"
            )
        result.setdefault(section, {})[resource] = value
    return result


def parse_x509(values: Iterable[str], *, option: str = "--x509") -> dict[str, object]:
    """``["validity=30d", "keyLength=4096"]`` → ``{"validity": "30d", "keyLength": 4096}``."""
    result: dict[str, object] = dict(parse_pairs(values, option=option))
    length = result.get("keyLength")
    if isinstance(length, str):
        if not length.isdigit():
            raise ValueError(
                f"{option}: keyLength={_shown(length)} is not a number of bits (2048, 3072 or 4096)"
            )
        result["keyLength"] = int(length)
    return result

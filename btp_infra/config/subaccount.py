"""The ``btp-infra:subaccount`` block: a subaccount the tenant stack creates (issue 14).

Owns: :class:`SubaccountSpec` (``displayName``, ``subdomain``, ``region``, ``parentDirectory``, ``labels``,
``usedForProduction``), the grammars of its values (subdomain and subaccount labels, btp-api.md §C.3a) and
their ``VALID_*`` texts, and :func:`subdomain_problem`. The rules that tie the block to the rest of a stack
(exactly one of ``subaccountId`` and ``subaccount``, the default subdomain from ``subdomainPrefix``) are
:class:`~btp_infra.config.models.TenantConfig`'s.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

from btp_infra.config.grammar import VALID_REGION, is_guid, is_region
from btp_infra.config.issues import Invalid, raise_all
from btp_infra.conventions import (
    SM_MANAGED_BY_LABEL,
    SM_TENANT_LABEL,
    SUBDOMAIN_MAX_LENGTH,
    SUBDOMAIN_RE,
)

__all__ = [
    "VALID_DISPLAY_NAME",
    "VALID_PARENT_DIRECTORY",
    "VALID_SUBACCOUNT",
    "VALID_SUBACCOUNT_LABELS",
    "VALID_SUBDOMAIN",
    "VALID_SUBDOMAIN_PREFIX",
    "SubaccountSpec",
    "subdomain_problem",
]

VALID_SUBDOMAIN: Final = (
    "lower-case letters, digits and '-', at most 63 characters, no '-' at either end, unique in its region "
    "(e.g. acme-orders)"
)
VALID_SUBDOMAIN_PREFIX: Final = (
    "an organisation prefix of lower-case letters, digits and '-' (no '-' at either end, at most 40 "
    "characters); the default subdomain is <prefix>-<namespace>"
)
VALID_DISPLAY_NAME: Final = "a non-empty name of at most 255 characters (shown in the BTP cockpit)"
VALID_PARENT_DIRECTORY: Final = "the GUID of a directory of the global account (8-4-4-4-12 hex digits)"
VALID_SUBACCOUNT_LABELS: Final = (
    "a mapping of at most 8 label keys (1-63 letters, digits, '.', '_' or '-'; not btp-infra.*) to a value "
    "or a list of at most 10 values (each 1-63 characters)"
)
VALID_SUBACCOUNT: Final = (
    "a mapping with displayName, region and optionally subdomain, parentDirectory, labels, usedForProduction "
    "(instead of btp-infra:subaccountId)"
)
_PREFIX_MAX: Final = 40
#: The Accounts API allows 10 label keys of up to 10 values, 63 characters each (btp-api.md §C.3a, the
#: OpenAPI); btp-infra's two identity labels take two of the keys.
_MAX_LABELS: Final = 8
_MAX_VALUES: Final = 10
_MAX_LABEL_TEXT: Final = 63
#: Label keys as the Service Manager labels btp-infra already writes (the provider checks the same).
_LABEL_KEY_RE: Final = re.compile(r"[A-Za-z0-9._-]{1,63}")
_RESERVED_LABELS: Final = (SM_TENANT_LABEL, SM_MANAGED_BY_LABEL)


def subdomain_problem(value: str) -> str | None:
    """What is wrong with a subaccount subdomain, or None."""
    if not value:
        return "is empty"
    if len(value) > SUBDOMAIN_MAX_LENGTH:
        return f"is {len(value)} characters long; the limit is {SUBDOMAIN_MAX_LENGTH}"
    if value != value.lower():
        return "contains upper-case letters"
    if value.startswith("-") or value.endswith("-"):
        return "starts or ends with '-'"
    if not SUBDOMAIN_RE.fullmatch(value):
        return "contains characters other than lower-case letters, digits and '-'"
    return None


def prefix_problem(value: str) -> str | None:
    """What is wrong with a ``subdomainPrefix``, or None."""
    if len(value) > _PREFIX_MAX:
        return f"is {len(value)} characters long; the limit is {_PREFIX_MAX}"
    return subdomain_problem(value)


def _labels(value: object) -> dict[str, list[str]]:
    if not isinstance(value, Mapping):
        raise Invalid("must be a mapping", VALID_SUBACCOUNT_LABELS)
    if len(value) > _MAX_LABELS:
        raise Invalid(f"has {len(value)} labels; the limit is {_MAX_LABELS}", VALID_SUBACCOUNT_LABELS)
    problems: list[Invalid] = []
    labels: dict[str, list[str]] = {}
    for key, raw in value.items():
        if not isinstance(key, str) or not _LABEL_KEY_RE.fullmatch(key):
            message = "label key must be 1-63 letters, digits, '.', '_' or '-'"
            problems.append(Invalid(message, VALID_SUBACCOUNT_LABELS, value=key))
            continue
        if key.startswith("btp-infra.") or key in _RESERVED_LABELS:
            problems.append(
                Invalid(
                    f"label {key} is reserved (btp-infra sets the tenant's identity labels itself)",
                    VALID_SUBACCOUNT_LABELS,
                    key=(key,),
                    value=key,
                )
            )
            continue
        values = [raw] if isinstance(raw, str) else raw
        if (
            not isinstance(values, list)
            or not values
            or len(values) > _MAX_VALUES
            or not all(isinstance(v, str) and 0 < len(v) <= _MAX_LABEL_TEXT for v in values)
        ):
            problems.append(
                Invalid(
                    "label value must be a string or a list of at most 10 strings of 1-63 characters",
                    VALID_SUBACCOUNT_LABELS,
                    key=(key,),
                    value=raw,
                )
            )
            continue
        labels[key] = list(dict.fromkeys(values))
    raise_all(problems)
    return labels


class SubaccountSpec(BaseModel):
    """The subaccount a tenant stack creates (btp-api.md §C.3a)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, hide_input_in_errors=True)

    display_name: str = Field(alias="displayName", description=VALID_DISPLAY_NAME)
    subdomain: str | None = Field(
        default=None,
        description=VALID_SUBDOMAIN + "; default <subdomainPrefix>-<namespace>",
    )
    region: str = Field(description=VALID_REGION)
    parent_directory: str | None = Field(
        default=None, alias="parentDirectory", description=VALID_PARENT_DIRECTORY
    )
    labels: dict[str, list[str]] = Field(default_factory=dict, description=VALID_SUBACCOUNT_LABELS)
    used_for_production: bool = Field(
        default=False,
        alias="usedForProduction",
        description="true or false (true: the tenant is protected and its subaccount never deleted until "
        "set back to false)",
    )

    @field_validator("display_name")
    @classmethod
    def _check_display_name(cls, value: str) -> str:
        if not value.strip():
            raise Invalid("is empty", VALID_DISPLAY_NAME)
        if len(value) > 255:
            raise Invalid(f"is {len(value)} characters long; the limit is 255", VALID_DISPLAY_NAME)
        return value

    @field_validator("subdomain")
    @classmethod
    def _check_subdomain(cls, value: str | None) -> str | None:
        problem = None if value is None else subdomain_problem(value)
        if problem:
            raise Invalid(problem, VALID_SUBDOMAIN)
        return value

    @field_validator("region")
    @classmethod
    def _check_region(cls, value: str) -> str:
        if not is_region(value):
            raise Invalid("is not a BTP region ID", VALID_REGION)
        return value

    @field_validator("parent_directory")
    @classmethod
    def _check_parent(cls, value: str | None) -> str | None:
        if value is not None and not is_guid(value):
            raise Invalid("is not a GUID", VALID_PARENT_DIRECTORY)
        return None if value is None else value.lower()

    @field_validator("labels", mode="before")
    @classmethod
    def _check_labels(cls, value: object) -> object:
        return _labels(value)

"""``btp-infra:subaccount`` (issue 14): exactly one of ``subaccountId`` and ``subaccount``, every message of
the block's validation (file, key, value, what is valid), the default subdomain, and the fleet's subdomain
rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from btp_infra.config import ConfigError, load_stack_file, parse_config, validate_fleet
from btp_infra.config.engine import from_pulumi_config
from btp_infra.conventions import SUBDOMAIN_RE, default_subdomain
from btp_infra.program import tenant_args

GUID = "553bcbbb-e809-450f-82db-60de3ef76b1f"
BLOCK: dict[str, Any] = {"displayName": "Orders", "region": "eu10", "subdomain": "acme-orders"}


def stack(tmp_path: Path, name: str = "orders", **config: Any) -> Path:
    values = {"namespace": "orders", "kubeContext": "kyma", **config}
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump({"config": {f"btp-infra:{k}": v for k, v in values.items()}}))
    return path


def lines_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_stack_file(path)
    return str(info.value).splitlines()


def test_a_subaccount_block_is_the_alternative_to_subaccount_id(tmp_path: Path) -> None:
    config = load_stack_file(stack(tmp_path, subaccount=BLOCK))
    assert config.subaccount_id is None and config.creates_subaccount
    assert config.subaccount_subdomain == "acme-orders" and config.subaccount_region == "eu10"
    # The namespace label names the subaccount once it exists: the component sets it from the resource.
    assert "btp-infra.io/subaccount" not in config.namespace_labels
    args = tenant_args(config)
    assert args.subaccount_id is None and args.subaccount is not None
    assert (args.subaccount.subdomain, args.subaccount.region) == ("acme-orders", "eu10")


@pytest.mark.parametrize(
    ("config", "key", "shown", "message", "valid"),
    [
        ({}, "subaccountId", "(missing)", "is required (or btp-infra:subaccount)", "8-4-4-4-12"),
        (
            {"subaccountId": GUID, "subaccount": BLOCK},
            "subaccountId",
            f"'{GUID}'",
            "is set together with btp-infra:subaccount",
            "instead btp-infra:subaccount",
        ),
        (
            {"subaccount": {**BLOCK, "subdomain": "Acme"}},
            "subaccount.subdomain",
            "'Acme'",
            "contains upper-case letters",
            "lower-case letters, digits and '-'",
        ),
        (
            {"subaccount": {**BLOCK, "subdomain": "acme-"}},
            "subaccount.subdomain",
            "'acme-'",
            "starts or ends with '-'",
            "no '-' at either end",
        ),
        (
            {"subaccount": {**BLOCK, "subdomain": "a" * 64}},
            "subaccount.subdomain",
            "'aaaa",
            "is 64 characters long; the limit is 63",
            "at most 63 characters",
        ),
        (
            {"subaccount": {**BLOCK, "subdomain": "acme_orders"}},
            "subaccount.subdomain",
            "'acme_orders'",
            "contains characters other than lower-case letters, digits and '-'",
            "unique in its region",
        ),
        (
            {"subaccount": {**BLOCK, "region": "europe"}},
            "subaccount.region",
            "'europe'",
            "is not a BTP region ID",
            "eu10",
        ),
        (
            {"subaccount": {**BLOCK, "displayName": " "}},
            "subaccount.displayName",
            "' '",
            "is empty",
            "a non-empty name",
        ),
        (
            {"subaccount": {**BLOCK, "parentDirectory": "nope"}},
            "subaccount.parentDirectory",
            "'nope'",
            "is not a GUID",
            "a directory of the global account",
        ),
        (
            {"subaccount": {**BLOCK, "labels": {"btp-infra.tenant": "x"}}},
            'subaccount.labels["btp-infra.tenant"]',
            "'btp-infra.tenant'",
            "is reserved",
            "not btp-infra.*",
        ),
        (
            {"subaccount": {**BLOCK, "labels": {"team": ["a" * 64]}}},
            "subaccount.labels.team",
            "['aaaa",
            "at most 10 strings of 1-63 characters",
            "each 1-63 characters",
        ),
        (
            {"subaccount": {**BLOCK, "labels": {"a=b": "x"}}},
            "subaccount.labels",
            "'a=b'",
            "label key must be 1-63 letters, digits, '.', '_' or '-'",
            "1-63 letters, digits",
        ),
        (
            {"subaccount": {**BLOCK, "labels": {f"k{i}": "v" for i in range(9)}}},
            "subaccount.labels",
            "{",
            "has 9 labels; the limit is 8",
            "at most 8 label keys",
        ),
        (
            {"subaccount": {**BLOCK, "usedForProduction": "yes"}},
            "subaccount.usedForProduction",
            "'yes'",
            "must be true or false",
            "true or false",
        ),
        (
            {"subaccount": {"region": "eu10", "subdomain": "acme-orders"}},
            "subaccount.displayName",
            "(missing)",
            "is required",
            "a non-empty name",
        ),
        (
            {"subaccount": {**BLOCK, "size": "xl"}},
            "subaccount.size",
            "'xl'",
            "is not a known key",
            "displayName, subdomain, region",
        ),
        (
            {"subaccount": {"displayName": "Orders", "region": "eu10"}},
            "subaccount.subdomain",
            "(missing)",
            "is not set, and btp-infra:subdomainPrefix neither",
            "<prefix>-<namespace>, e.g. acme-orders",
        ),
        (
            {"subaccount": BLOCK, "subdomainPrefix": "Acme"},
            "subdomainPrefix",
            "'Acme'",
            "contains upper-case letters",
            "organisation prefix",
        ),
        (
            {"subaccount": BLOCK, "subdomainPrefix": "a" * 41},
            "subdomainPrefix",
            "'aaaa",
            "is 41 characters long; the limit is 40",
            "at most 40 characters",
        ),
        (
            {"subaccountId": GUID, "subdomainPrefix": "acme"},
            "subdomainPrefix",
            "'acme'",
            "is only used with btp-infra:subaccount",
            "remove subdomainPrefix",
        ),
        (
            {"subaccountId": GUID, "allowSubaccountReplacement": True},
            "allowSubaccountReplacement",
            "True",
            "is only used with btp-infra:subaccount",
            "remove allowSubaccountReplacement",
        ),
        (
            {"subaccount": BLOCK, "region": "us10"},
            "region",
            "'us10'",
            "differs from subaccount.region eu10",
            "the same region as subaccount.region",
        ),
    ],
    ids=lambda v: (
        v if isinstance(v, str) and v.startswith(("subaccount", "subdomain", "allow", "region")) else None
    ),
)
def test_every_message_names_file_key_value_and_what_is_valid(
    tmp_path: Path, config: dict[str, Any], key: str, shown: str, message: str, valid: str
) -> None:
    path = stack(tmp_path, **config)
    found = [line for line in lines_of(path) if line.startswith(f"{path}: btp-infra:{key}: ")]
    assert len(found) == 1, lines_of(path)
    line = found[0]
    head, _, valid_text = line.partition("; valid: ")
    assert head.startswith(f"{path}: btp-infra:{key}: {shown}")
    assert message in head
    assert valid in valid_text


def test_a_missing_subaccount_is_reported_together_with_other_problems(tmp_path: Path) -> None:
    lines = lines_of(stack(tmp_path, namespace="Bad"))
    assert any("btp-infra:namespace: 'Bad'" in line for line in lines)
    assert any("btp-infra:subaccountId: (missing) — is required" in line for line in lines)


def test_the_engine_form_reads_the_block_as_json() -> None:
    config = from_pulumi_config(
        {
            "btp-infra:namespace": "orders",
            "btp-infra:kubeContext": "kyma",
            "btp-infra:subaccount": json.dumps({"displayName": "Orders", "region": "eu10"}),
            "btp-infra:subdomainPrefix": "acme",
            "btp-infra:allowSubaccountReplacement": "true",
        },
        source="stacks/Pulumi.orders.yaml",
    )
    assert config.subaccount_subdomain == "acme-orders" and config.allow_subaccount_replacement


def test_the_default_subdomain_is_deterministic_and_within_the_grammar() -> None:
    assert default_subdomain("orders", "acme") == "acme-orders"
    assert default_subdomain("orders", None) == "orders"
    long_ns = "n" * 63
    first, second = default_subdomain(long_ns, "acme"), default_subdomain(long_ns[:-1] + "m", "acme")
    assert first == default_subdomain(long_ns, "acme")  # the same every run
    assert len(first) == 63 and SUBDOMAIN_RE.fullmatch(first) and first != second
    # A cut that would end in '-' does not: the grammar forbids a hyphen at either end.
    dashed = default_subdomain("a" + "-" * 10 + "b" * 52, "acme")
    assert SUBDOMAIN_RE.fullmatch(dashed) and len(dashed) <= 63


def test_used_for_production_protects_the_whole_tenant() -> None:
    config = parse_config(
        {"namespace": "orders", "subaccount": {**BLOCK, "usedForProduction": True}, "kubeContext": "k"}
    )
    assert config.effective_protect and tenant_args(config).protect
    assert not parse_config(
        {"namespace": "orders", "subaccount": BLOCK, "kubeContext": "k"}
    ).effective_protect


def test_two_stacks_may_not_claim_one_subdomain_in_one_region(tmp_path: Path) -> None:
    one = load_stack_file(stack(tmp_path, "one", subaccount=BLOCK))
    two = load_stack_file(stack(tmp_path, "two", namespace="billing", subaccount=BLOCK))
    other_region = load_stack_file(
        stack(tmp_path, "three", namespace="ledger", subaccount={**BLOCK, "region": "us10"})
    )
    issues = validate_fleet({"one": one, "two": two, "three": other_region})
    assert [issue.render() for issue in issues] == [
        f"{tmp_path / 'Pulumi.two.yaml'}: btp-infra:subaccount.subdomain: 'acme-orders' — gives subdomain "
        f"'acme-orders' in region eu10, which {tmp_path / 'Pulumi.one.yaml'} creates as well; valid: a "
        "subdomain that no other stack creates in this region (subdomains are unique per region)"
    ]


def test_a_derived_subdomain_clash_names_the_prefix(tmp_path: Path) -> None:
    block = {"displayName": "Orders", "region": "eu10"}
    one = load_stack_file(stack(tmp_path, "one", subaccount=block, subdomainPrefix="acme"))
    two = load_stack_file(
        stack(tmp_path, "two", subaccount={**block, "subdomain": "acme-orders"}, namespace="billing")
    )
    # Listed the other way round, the derived one is the second claim.
    issues = validate_fleet({"two": two, "one": one})
    assert len(issues) == 1 and issues[0].key == "subdomainPrefix" and "acme-orders" in issues[0].message

"""Tenant config model: shipped stacks, derived names, loaders, and error messages for invalid configs."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml

from btp_infra.catalog import plan_takes_amount
from btp_infra.config import (
    CONFIG_KEYS,
    ConfigError,
    ConfigIssue,
    EncryptedSecret,
    TenantConfig,
    discover_stacks,
    engine_values,
    from_pulumi_config,
    load_fleet,
    load_stack_file,
    parse_config,
    parse_duration,
    parse_quantity,
    stack_file_for,
    stack_name_of,
    validate_fleet,
)

ROOT = Path(__file__).resolve().parents[1]
#: The shipped examples; stacks/ belongs to the users and is never read by the tests.
EXAMPLES = ROOT / "examples" / "stacks"
GUID = "553bcbbb-e809-450f-82db-60de3ef76b1f"
OTHER_GUID = "0b6f1a52-3c4d-4e8f-9a7b-2c1d5e6f7a8b"
BASE: dict[str, Any] = {"namespace": "incident", "subaccountId": GUID, "kubeContext": "kyma"}
DELETE = object()
VALID_KEYS = (
    f"  btp-infra:namespace: incident\n  btp-infra:subaccountId: {GUID}\n  btp-infra:kubeContext: kyma\n"
)


def write_stack(directory: Path, config: dict[str, Any], name: str = "t") -> Path:
    """A stack file with ``config`` under ``btp-infra:`` keys (values as YAML structures)."""
    path = directory / f"Pulumi.{name}.yaml"
    document = {"config": {f"btp-infra:{k}": v for k, v in config.items()}}
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def config_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_stack_file(path)
    return info.value


def issue_for(error: ConfigError, key: str) -> ConfigIssue:
    matches = [issue for issue in error.issues if issue.key == key]
    assert matches, f"no issue for {key!r} in:\n{error}"
    return matches[0]


# ----------------------------------------------------------------------------------------------------
# Shipped stacks and derived values
# ----------------------------------------------------------------------------------------------------


def test_every_shipped_stack_loads_and_the_fleet_is_consistent() -> None:
    stacks = discover_stacks(EXAMPLES)
    names = {stack_name_of(p) for p in stacks}
    assert {"example", "example-x509"} <= names
    for path in stacks:
        config = load_stack_file(path)
        assert config.source == str(path)
    fleet = load_fleet(EXAMPLES)
    assert set(fleet) == names
    assert validate_fleet(fleet) == []


def test_example_stack_uses_the_defaults() -> None:
    config = load_stack_file(EXAMPLES / "Pulumi.example.yaml")
    assert config.namespace == "incident"
    assert config.subaccount_id == GUID
    assert config.region is None
    assert config.credential_type == "client-secret"
    assert config.secret_placement == "namespace"
    assert config.management_namespace == "kyma-system"
    assert config.network_policy == "none"
    assert (config.mtls, config.protect) == (False, False)
    assert config.quota is None and config.limit_range is None
    assert config.cis_service_key is None and config.keyring_profile is None
    assert (
        config.timeouts.entitlement,
        config.timeouts.admin_access,
        config.timeouts.instance,
        config.timeouts.binding,
    ) == (1200, 600, 1800, 600)
    assert config.secret_name == "sap-btp-service-operator"
    assert config.secret_namespace == "incident"
    assert config.instance_name == "btp-infra-incident-operator-access"
    assert config.binding_name == "btp-infra-incident-operator-access-client-secret"
    assert config.namespace_labels == {
        "istio-injection": "enabled",
        "btp-infra.io/tenant": "incident",
        "btp-infra.io/subaccount": GUID,
        "app.kubernetes.io/managed-by": "btp-infra",
    }
    assert [str(e) for e in config.all_entitlements] == ["service-manager/service-operator-access"]
    assert config.sm_labels == {"btp-infra.managed-by": ["btp-infra"], "btp-infra.tenant": ["incident"]}


def test_x509_example_stack() -> None:
    config = load_stack_file(EXAMPLES / "Pulumi.example-x509.yaml")
    assert config.namespace != "incident" and config.subaccount_id != GUID
    assert config.credential_type == "x509"
    assert config.uses_management_namespace
    assert config.secret_name == f"{config.namespace}-sap-btp-service-operator"
    assert config.secret_namespace == "kyma-system"
    assert config.binding_name == f"btp-infra-{config.namespace}-operator-access-x509"
    assert [str(e) for e in config.all_entitlements] == [
        "service-manager/service-operator-access",
        "destination/lite",
        "hana-cloud/hana (amount 1)",
    ]
    assert config.network_policy == "default-deny" and config.mtls and config.protect
    assert config.quota is not None and config.quota.hard()["limits.memory"] == "16Gi"
    assert config.limit_range is not None
    assert config.limit_range.container_limits() == {
        "type": "Container",
        "default": {"cpu": "500m", "memory": "512Mi"},
        "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
        "max": {"cpu": "2", "memory": "4Gi"},
    }
    labels = config.namespace_labels
    assert list(labels)[:4] == [
        "istio-injection",
        "btp-infra.io/tenant",
        "btp-infra.io/subaccount",
        "app.kubernetes.io/managed-by",
    ]
    assert labels["cost-center"] == "4711"
    assert config.timeouts.instance == 90 * 60


def test_shipped_stacks_hold_no_plaintext_secrets() -> None:
    for path in discover_stacks(EXAMPLES):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for key in ("btp-infra:cisServiceKey", "btp-infra:kubeconfig"):
            assert key not in document["config"], f"{path} sets {key}"


def test_user_operator_access_entry_is_merged_and_guid_is_normalised() -> None:
    config = parse_config(
        {
            "namespace": "incident",
            "subaccountId": GUID.upper(),
            "entitlements": [
                {"service": "xsuaa", "plan": "application"},
                {"service": "service-manager", "plan": "service-operator-access"},
            ],
        }
    )
    assert config.subaccount_id == GUID
    assert [str(e) for e in config.all_entitlements] == [
        "service-manager/service-operator-access",
        "xsuaa/application",
    ]


def test_management_namespace_may_be_custom_with_management_placement() -> None:
    config = parse_config({**BASE, "secretPlacement": "management", "managementNamespace": "btp-operator"})
    assert config.secret_namespace == "btp-operator"
    assert config.secret_name == "incident-sap-btp-service-operator"
    # Spelling out the default with namespace placement is harmless.
    assert parse_config({**BASE, "managementNamespace": "kyma-system"}).secret_namespace == "incident"


def test_unknown_plans_may_take_an_amount_and_hana_may_omit_it() -> None:
    config = parse_config(
        {
            **BASE,
            "entitlements": [
                {"service": "some-service", "plan": "big", "amount": 3},
                {"service": "hana-cloud", "plan": "hana"},
            ],
        }
    )
    assert [e.amount for e in config.entitlements] == [3, None]


def test_catalog_answers() -> None:
    assert plan_takes_amount("service-manager", "service-operator-access") is False
    assert plan_takes_amount("xsuaa", "application") is False
    assert plan_takes_amount("destination", "lite") is False
    assert plan_takes_amount("hana-cloud", "hana") is True
    assert plan_takes_amount("credstore", "standard") is None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Fraction(1, 2)),
        ("2", Fraction(2)),
        ("1.5", Fraction(3, 2)),
        (".5", Fraction(1, 2)),
        ("1Gi", Fraction(2**30)),
        ("512Mi", Fraction(512 * 2**20)),
        ("1k", Fraction(1000)),
        ("1e3", Fraction(1000)),
        ("1E-3", Fraction(1, 1000)),
        ("100n", Fraction(1, 10**7)),
        ("+4", Fraction(4)),
        ("-1", Fraction(-1)),
    ],
)
def test_parse_quantity(text: str, value: Fraction) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    "text", ["", "1.2.3", "4 cores", "1K", "1gi", "Gi", "1e", "1e1.5", "1Mi2", "e3", "1ki"]
)
def test_parse_quantity_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        parse_quantity(text)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (600, 600),
        (1.2, 2),
        ("600", 600),
        ("90s", 90),
        ("30m", 1800),
        ("1h", 3600),
        ("1h30m", 5400),
        ("1.5h", 5400),
    ],
)
def test_parse_duration(value: object, seconds: int) -> None:
    assert parse_duration(value) == seconds


# ----------------------------------------------------------------------------------------------------
# Invalid configs: every message names the file, the key, the value and what is valid
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bad:
    id: str
    overrides: dict[str, Any]
    key: str
    value: str
    message: str
    valid: str


BAD_CONFIGS = [
    Bad("namespace-type", {"namespace": 5}, "namespace", "5", "must be a string", "DNS-1123 label"),
    Bad("namespace-upper", {"namespace": "Incident"}, "namespace", "'Incident'", "uppercase", "DNS-1123"),
    Bad("namespace-long", {"namespace": "a" * 64}, "namespace", "'aaaa", "64 characters long", "at most 63"),
    Bad(
        "namespace-chars",
        {"namespace": "in_cident"},
        "namespace",
        "'in_cident'",
        "not a DNS-1123",
        "DNS-1123",
    ),
    Bad("namespace-empty", {"namespace": ""}, "namespace", "''", "is empty", "DNS-1123"),
    Bad(
        "kube-system",
        {"namespace": "kube-system"},
        "namespace",
        "'kube-system'",
        "system namespace",
        "kube-*",
    ),
    Bad("default", {"namespace": "default"}, "namespace", "'default'", "system namespace", "kyma-system"),
    Bad(
        "kyma-system", {"namespace": "kyma-system"}, "namespace", "'kyma-system'", "system namespace", "not a"
    ),
    Bad(
        "istio-system",
        {"namespace": "istio-system"},
        "namespace",
        "'istio-system'",
        "system namespace",
        "not a",
    ),
    Bad("kube-prefix", {"namespace": "kube-tenant"}, "namespace", "'kube-tenant'", "kube- prefix", "kube-*"),
    Bad("namespace-missing", {"namespace": DELETE}, "namespace", "(missing)", "is required", "DNS-1123"),
    Bad(
        "guid-short",
        {"subaccountId": "553bcbbb-e809-450f"},
        "subaccountId",
        "'553bcbbb",
        "not a GUID",
        "8-4-4-4-12",
    ),
    Bad(
        "guid-chars",
        {"subaccountId": GUID[:-1] + "z"},
        "subaccountId",
        "'553bcbbb",
        "not a GUID",
        "hex digits",
    ),
    Bad("guid-type", {"subaccountId": 12}, "subaccountId", "12", "must be a string", "subaccount GUID"),
    Bad("guid-missing", {"subaccountId": DELETE}, "subaccountId", "(missing)", "is required", "8-4-4-4-12"),
    Bad("region", {"region": "Europe"}, "region", "'Europe'", "not a BTP region ID", "eu10"),
    Bad("credential-type", {"credentialType": "mtls"}, "credentialType", "'mtls'", "not one of", "x509"),
    Bad("placement", {"secretPlacement": "kyma"}, "secretPlacement", "'kyma'", "not one of", "management"),
    Bad(
        "network-policy",
        {"networkPolicy": "deny-all"},
        "networkPolicy",
        "'deny-all'",
        "not one of",
        "default-deny",
    ),
    Bad("mtls-string", {"mtls": "yes"}, "mtls", "'yes'", "must be true or false", "true or false"),
    Bad("protect-number", {"protect": 1}, "protect", "1", "must be true or false", "true or false"),
    Bad(
        "entitlements-not-list",
        {"entitlements": {"service": "xsuaa"}},
        "entitlements",
        "{'service': 'xsuaa'}",
        "must be a list",
        "{service, plan, amount?}",
    ),
    Bad(
        "amount-on-enable-plan",
        {"entitlements": [{"service": "destination", "plan": "lite", "amount": 1}]},
        "entitlements[0].amount",
        "1",
        "destination/lite has no numeric quota",
        "omit amount",
    ),
    Bad(
        "amount-on-operator-access",
        {"entitlements": [{"service": "service-manager", "plan": "service-operator-access", "amount": 1}]},
        "entitlements[0].amount",
        "1",
        "no numeric quota",
        "omit amount",
    ),
    Bad(
        "amount-zero",
        {"entitlements": [{"service": "hana-cloud", "plan": "hana", "amount": 0}]},
        "entitlements[0].amount",
        "0",
        "at least 1",
        "whole number from 1",
    ),
    Bad(
        "amount-negative",
        {
            "entitlements": [
                {"service": "xsuaa", "plan": "application"},
                {"service": "hana-cloud", "plan": "hana", "amount": -2},
            ]
        },
        "entitlements[1].amount",
        "-2",
        "at least 1",
        "whole number from 1",
    ),
    Bad(
        "amount-string",
        {"entitlements": [{"service": "hana-cloud", "plan": "hana", "amount": "1"}]},
        "entitlements[0].amount",
        "'1'",
        "must be a whole number",
        "numeric quota",
    ),
    Bad(
        "amount-float",
        {"entitlements": [{"service": "hana-cloud", "plan": "hana", "amount": 1.5}]},
        "entitlements[0].amount",
        "1.5",
        "must be a whole number",
        "whole number",
    ),
    Bad(
        "entitlement-duplicate",
        {
            "entitlements": [
                {"service": "hana-cloud", "plan": "hana", "amount": 1},
                {"service": "hana-cloud", "plan": "hana", "amount": 2},
            ]
        },
        "entitlements[1]",
        "'hana-cloud/hana'",
        "duplicates entitlements[0]",
        "at most once",
    ),
    Bad(
        "operator-access-twice",
        {
            "entitlements": [
                {"service": "service-manager", "plan": "service-operator-access"},
                {"service": "service-manager", "plan": "service-operator-access"},
            ]
        },
        "entitlements[1]",
        "'service-manager/service-operator-access'",
        "duplicates entitlements[0]",
        "at most once",
    ),
    Bad(
        "entitlement-missing-plan",
        {"entitlements": [{"service": "xsuaa"}]},
        "entitlements[0].plan",
        "(missing)",
        "is required",
        "technical name",
    ),
    Bad(
        "entitlement-bad-name",
        {"entitlements": [{"service": "hana cloud", "plan": "hana"}]},
        "entitlements[0].service",
        "'hana cloud'",
        "not a BTP technical name",
        "technical name",
    ),
    Bad(
        "entitlement-typo-key",
        {"entitlements": [{"service": "hana-cloud", "plan": "hana", "amout": 1}]},
        "entitlements[0].amout",
        "1",
        "did you mean amount?",
        "service, plan, amount",
    ),
    Bad(
        "typo-key",
        {"namesapce": "incident"},
        "namesapce",
        "'incident'",
        "did you mean namespace?",
        "namespace",
    ),
    Bad(
        "snake-key",
        {"subaccount_id": GUID},
        "subaccount_id",
        "'553bcbbb",
        "did you mean subaccountId?",
        "subaccountId",
    ),
    Bad(
        "case-key",
        {"NetworkPolicy": "none"},
        "NetworkPolicy",
        "'none'",
        "did you mean networkPolicy?",
        "networkPolicy",
    ),
    Bad(
        "reserved-label",
        {"labels": {"istio-injection": "disabled"}},
        "labels.istio-injection",
        "'disabled'",
        "reserved",
        "not istio-injection",
    ),
    Bad(
        "reserved-label-prefix",
        {"labels": {"btp-infra.io/tenant": "other"}},
        'labels["btp-infra.io/tenant"]',
        "'other'",
        "reserved",
        "btp-infra.io/",
    ),
    Bad(
        "reserved-kubernetes-label",
        {"labels": {"kubernetes.io/metadata.name": "x"}},
        'labels["kubernetes.io/metadata.name"]',
        "'x'",
        "reserved",
        "kubernetes.io/",
    ),
    Bad(
        "label-key",
        {"labels": {"cost center": "1"}},
        'labels["cost center"]',
        "'cost center'",
        "label key name",
        "[prefix/]name",
    ),
    Bad(
        "label-prefix",
        {"labels": {"Example.COM/team": "a"}},
        'labels["Example.COM/team"]',
        "'Example.COM/team'",
        "not a DNS subdomain",
        "DNS subdomain",
    ),
    Bad(
        "label-value",
        {"labels": {"team": "-payments-"}},
        "labels.team",
        "'-payments-'",
        "label value must be",
        "string values",
    ),
    Bad(
        "label-value-long",
        {"labels": {"team": "x" * 64}},
        "labels.team",
        "'xxxx",
        "64 characters long",
        "≤ 63",
    ),
    Bad(
        "label-value-number",
        {"labels": {"cost-center": 4711}},
        "labels.cost-center",
        "4711",
        "must be a string",
        "quote numbers",
    ),
    Bad("labels-not-mapping", {"labels": ["a=b"]}, "labels", "['a=b']", "must be a mapping", "label keys"),
    Bad(
        "quota-quantity",
        {"quota": {"requests.cpu": "4 cores"}},
        'quota["requests.cpu"]',
        "'4 cores'",
        "not a Kubernetes quantity",
        "500m",
    ),
    Bad(
        "quota-negative",
        {"quota": {"limits.memory": "-1Gi"}},
        'quota["limits.memory"]',
        "'-1Gi'",
        "is negative",
        "non-negative",
    ),
    Bad(
        "quota-pods-fraction",
        {"quota": {"pods": "1.5"}},
        "quota.pods",
        "'1.5'",
        "whole number",
        "whole number",
    ),
    Bad(
        "quota-resource",
        {"quota": {"request.cpu": "1"}},
        'quota["request.cpu"]',
        "'request.cpu'",
        "did you mean requests.cpu?",
        "ResourceQuota resource names",
    ),
    Bad("quota-empty", {"quota": {}}, "quota", "{}", "is empty", "ResourceQuota"),
    Bad(
        "quota-bool", {"quota": {"pods": True}}, "quota.pods", "True", "must be a Kubernetes quantity", "500m"
    ),
    Bad(
        "limit-order",
        {"limitRange": {"default": {"cpu": "4"}, "max": {"cpu": "2"}}},
        "limitRange.default.cpu",
        "'4'",
        "default 4 is greater than max 2",
        "min ≤ defaultRequest ≤ default ≤ max",
    ),
    Bad(
        "limit-request-over-limit",
        {"limitRange": {"defaultRequest": {"memory": "1Gi"}, "default": {"memory": "512Mi"}}},
        "limitRange.defaultRequest.memory",
        "'1Gi'",
        "greater than default 512Mi",
        "defaultRequest ≤ default",
    ),
    Bad(
        "limit-quantity",
        {"limitRange": {"max": {"memory": "2 GB"}}},
        "limitRange.max.memory",
        "'2 GB'",
        "not a Kubernetes quantity",
        "512Mi",
    ),
    Bad(
        "limit-resource",
        {"limitRange": {"max": {"cpus": "2"}}},
        "limitRange.max.cpus",
        "'cpus'",
        "did you mean cpu?",
        "cpu, memory",
    ),
    Bad(
        "limit-section",
        {"limitRange": {"maximum": {"cpu": "2"}}},
        "limitRange.maximum",
        "{'cpu': '2'}",
        "did you mean max?",
        "defaultRequest",
    ),
    Bad("limit-empty", {"limitRange": {}}, "limitRange", "{}", "is empty", "defaultRequest"),
    Bad(
        "timeout-text",
        {"timeouts": {"instance": "30 minutes"}},
        "timeouts.instance",
        "'30 minutes'",
        "not a duration",
        "30m",
    ),
    Bad(
        "timeout-zero", {"timeouts": {"binding": 0}}, "timeouts.binding", "0", "shorter than 1 second", "90s"
    ),
    Bad(
        "timeout-long",
        {"timeouts": {"entitlement": "48h"}},
        "timeouts.entitlement",
        "'48h'",
        "longer than 24h",
        "24h",
    ),
    Bad(
        "timeout-bool",
        {"timeouts": {"adminAccess": True}},
        "timeouts.adminAccess",
        "True",
        "must be a number of seconds",
        "1h30m",
    ),
    Bad(
        "timeout-key",
        {"timeouts": {"instnace": "1h"}},
        "timeouts.instnace",
        "'1h'",
        "did you mean instance?",
        "adminAccess",
    ),
    Bad(
        "management-is-tenant",
        {"secretPlacement": "management", "managementNamespace": "incident"},
        "managementNamespace",
        "'incident'",
        "the tenant namespace itself",
        "other than the tenant namespace",
    ),
    Bad(
        "management-without-placement",
        {"managementNamespace": "btp-operator"},
        "managementNamespace",
        "'btp-operator'",
        "only used with secretPlacement: management",
        "set secretPlacement: management",
    ),
    Bad(
        "management-invalid",
        {"secretPlacement": "management", "managementNamespace": "kyma_system"},
        "managementNamespace",
        "'kyma_system'",
        "not a DNS-1123 label",
        "DNS-1123",
    ),
    Bad(
        "keyring-profile",
        {"keyringProfile": "my profile"},
        "keyringProfile",
        "'my profile'",
        "not a keyring profile",
        "at most 64",
    ),
    Bad("kube-context", {"kubeContext": " "}, "kubeContext", "' '", "is empty", "context"),
]


@pytest.mark.parametrize("case", BAD_CONFIGS, ids=[c.id for c in BAD_CONFIGS])
def test_invalid_config_names_file_key_value_and_what_is_valid(tmp_path: Path, case: Bad) -> None:
    config = dict(BASE)
    for key, value in case.overrides.items():
        if value is DELETE:
            config.pop(key)
        else:
            config[key] = value
    path = write_stack(tmp_path, config)
    error = config_error(path)
    line = issue_for(error, case.key).render()
    assert line.startswith(f"{path}: btp-infra:{case.key}: ")
    assert f": {case.value}" in line
    assert case.message in line
    valid = line.split("; valid: ", 1)[1]
    assert case.valid in valid
    assert line in str(error).splitlines()


def test_at_least_thirty_invalid_configs() -> None:
    assert len(BAD_CONFIGS) >= 30


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    path = write_stack(
        tmp_path, {"namespace": "Kube-System", "subaccountId": "x", "mtls": "on", "labels": {"a b": "c"}}
    )
    keys = {issue.key for issue in config_error(path).issues}
    assert {"namespace", "subaccountId", "mtls", 'labels["a b"]'} <= keys


@dataclass(frozen=True)
class BadFile:
    id: str
    text: str
    message: str
    key: str = ""


BAD_FILES = [
    BadFile(
        "yaml-syntax",
        "config:\n  btp-infra:namespace: [incident\n",
        "invalid YAML at line 3, column 1: while parsing a flow sequence",
    ),
    BadFile("yaml-tab", "config:\n\tbtp-infra:namespace: x\n", "invalid YAML at line 2, column 1"),
    BadFile("empty", "", "is empty"),
    BadFile("comments-only", "# nothing here\n", "is empty"),
    BadFile("list", "- config\n- x\n", "top level is a list, not a mapping"),
    BadFile("scalar", "hello\n", "top level is a string, not a mapping"),
    BadFile("no-config", "secretsprovider: passphrase\n", "has no config: mapping"),
    BadFile("config-list", "config:\n  - btp-infra:namespace\n", "config: is a list, not a mapping"),
    BadFile(
        "typo-top-level",
        "confg:\n  btp-infra:namespace: x\n",
        "unknown top-level key 'confg'; did you mean config?",
    ),
    BadFile(
        "duplicate-key",
        f"config:\n  btp-infra:namespace: a\n  btp-infra:subaccountId: {GUID}\n  btp-infra:namespace: b\n",
        "invalid YAML at line 4, column 3: found duplicate key 'btp-infra:namespace'",
    ),
    BadFile(
        "bare-key",
        "config:\n  namespace: incident\n" + VALID_KEYS,
        "config key 'namespace' has no namespace; did you mean btp-infra:namespace?",
    ),
    BadFile(
        "namespace-typo",
        "config:\n  btp-infr:namespace: incident\n" + VALID_KEYS,
        "unknown config namespace 'btp-infr'; did you mean btp-infra:namespace?",
        key="btp-infr:namespace",
    ),
    BadFile(
        "foreign-namespace",
        "config:\n  aws:region: eu-west-1\n" + VALID_KEYS,
        "unknown config namespace 'aws'",
        key="aws:region",
    ),
]


@pytest.mark.parametrize("case", BAD_FILES, ids=[c.id for c in BAD_FILES])
def test_invalid_stack_file(tmp_path: Path, case: BadFile) -> None:
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text(case.text, encoding="utf-8")
    error = config_error(path)
    issue = next(i for i in error.issues if case.message in i.message)
    assert issue.key == case.key
    line = issue.render()
    assert line.startswith(f"{path}: ")
    if case.key:
        assert f": {case.key}: " in line  # a foreign key is shown as written, not under btp-infra:
    assert "; valid: " in line


def test_missing_stack_file(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.nope.yaml"
    error = config_error(path)
    assert str(error) == (
        f"{path}: stack file not found; valid: an existing stacks/Pulumi.<stack>.yaml "
        "(copy examples/stacks/Pulumi.example.yaml)"
    )


def test_passthrough_namespaces_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text(
        "config:\n"
        "  kubernetes:enableServerSideApply: 'true'\n"
        "  pulumi:disable-default-providers: ['*']\n"
        "  btp-infra:namespace: incident\n"
        f"  btp-infra:subaccountId: {GUID}\n"
        "  btp-infra:kubeContext: kyma\n",
        encoding="utf-8",
    )
    assert load_stack_file(path).namespace == "incident"


def test_engine_style_strings_in_a_stack_file_are_accepted(tmp_path: Path) -> None:
    """Pulumi hands quoted booleans and JSON text to the program unchanged; the offline loader agrees."""
    path = write_stack(tmp_path, {**BASE, "mtls": "true", "labels": '{"team": "a"}'})
    config = load_stack_file(path)
    assert config.mtls is True and config.labels == {"team": "a"}


# ----------------------------------------------------------------------------------------------------
# Secrets
# ----------------------------------------------------------------------------------------------------

CIPHERTEXT = "v1:c2VjcmV0Y2lwaGVy:UNIQUECIPHERTEXTMARKER"
PLAIN_KEY = '{"uaa": {"clientsecret": "TOP-SECRET-VALUE-42"}}'


def test_secure_cis_key_is_present_but_secret(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text(
        f"config:\n{VALID_KEYS}"
        f"  btp-infra:cisServiceKey:\n    secure: {CIPHERTEXT}\n"
        f"  btp-infra:kubeconfig:\n    secure: {CIPHERTEXT}\n",
        encoding="utf-8",
    )
    config = load_stack_file(path)
    assert isinstance(config.cis_service_key, EncryptedSecret)
    assert config.has_cis_service_key and config.cis_service_key_value is None
    assert config.kubeconfig_value is None
    assert config.redacted()["cisServiceKey"] == "[secret]"
    assert "UNIQUECIPHERTEXTMARKER" not in repr(config)


def test_plaintext_cis_key_in_a_stack_file_is_rejected_without_showing_it(tmp_path: Path) -> None:
    path = write_stack(tmp_path, {**BASE, "cisServiceKey": PLAIN_KEY})
    error = config_error(path)
    line = issue_for(error, "cisServiceKey").render()
    assert line.startswith(f"{path}: btp-infra:cisServiceKey: [secret] — is in plain text")
    assert "pulumi config set --secret" in line
    assert "TOP-SECRET" not in str(error)


def test_secure_on_a_non_secret_key_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text(
        f"config:\n  btp-infra:namespace:\n    secure: {CIPHERTEXT}\n  btp-infra:subaccountId: {GUID}\n"
        "  btp-infra:kubeContext: kyma\n",
        encoding="utf-8",
    )
    error = config_error(path)
    assert [i.key for i in error.issues] == ["namespace"]  # no extra "namespace is required"
    line = error.issues[0].render()
    assert line.startswith(
        f"{path}: btp-infra:namespace: [secret] — is encrypted (secure:) but is not secret"
    )
    assert "only cisServiceKey, kubeconfig may be secure" in line
    assert "UNIQUECIPHERTEXTMARKER" not in str(error)


def test_secret_values_never_render() -> None:
    values = {
        "btp-infra:namespace": "incident",
        "btp-infra:subaccountId": GUID,
        "btp-infra:cisServiceKey": 5,  # wrong type, as a mapping value could be
        "btp-infra:cisServicekey": PLAIN_KEY,  # misspelt secret key: its value is hidden too
        "btp-infra:kubeContext": "",
        "btp-infra:region": "TOP-SECRET-REGION",
    }
    with pytest.raises(ConfigError) as info:
        from_pulumi_config(values, source="stacks/Pulumi.t.yaml", secret_keys=["btp-infra:region"])  # type: ignore[arg-type]
    text = str(info.value)
    assert "TOP-SECRET" not in text and "clientsecret" not in text
    assert "stacks/Pulumi.t.yaml: btp-infra:cisServiceKey: [secret] — must be a string" in text
    assert "btp-infra:cisServicekey: [secret] — is not a known key; did you mean cisServiceKey?" in text
    assert "btp-infra:region: [secret] — is not a BTP region ID" in text
    assert info.value.__cause__ is None and info.value.__context__ is None  # no pydantic dump chained
    for issue in info.value.issues:
        assert "TOP-SECRET" not in repr(issue)


def test_secret_issue_never_keeps_the_value() -> None:
    issue = ConfigIssue("f", "cisServiceKey", "TOP-SECRET", "bad", "good", secret=True)
    assert "TOP-SECRET" not in repr(issue) and "TOP-SECRET" not in issue.render()


def test_long_values_are_truncated() -> None:
    line = ConfigIssue("f", "labels.team", "x" * 500, "is too long", "short").render()
    assert len(line) < 200 and "…" in line


def test_plaintext_secret_from_the_engine_is_available_but_hidden() -> None:
    config = from_pulumi_config(
        {
            "btp-infra:namespace": "incident",
            "btp-infra:subaccountId": GUID,
            "btp-infra:kubeContext": "kyma",
            "btp-infra:cisServiceKey": PLAIN_KEY,
        },
        source="stacks/Pulumi.t.yaml",
    )
    assert config.cis_service_key_value == PLAIN_KEY
    assert "TOP-SECRET" not in repr(config) and "TOP-SECRET" not in str(config.redacted())


# ----------------------------------------------------------------------------------------------------
# from_pulumi_config: engine strings
# ----------------------------------------------------------------------------------------------------


def test_from_pulumi_config_parses_engine_strings() -> None:
    config = from_pulumi_config(
        {
            "btp-infra:namespace": "incident",
            "subaccountId": GUID,  # bare keys are the project's
            "btp-infra:mtls": "true",
            "btp-infra:protect": "False",
            "btp-infra:entitlements": '[{"service": "hana-cloud", "plan": "hana", "amount": 2}]',
            "btp-infra:labels": '{"team": "a"}',
            "btp-infra:quota": '{"pods": "10", "requests.cpu": 2}',
            "btp-infra:limitRange": '{"max": {"cpu": "2"}}',
            "btp-infra:timeouts": '{"instance": "1h", "binding": 120}',
            "btp-infra:region": None,  # unset
            "btp-infra:kubeContext": "kyma",
            "kubernetes:enableServerSideApply": "ignored",
            "pulumi:tags": "ignored",
        },
        source="stacks/Pulumi.t.yaml",
    )
    assert config.source == "stacks/Pulumi.t.yaml"
    assert (config.mtls, config.protect) == (True, False)
    assert [(e.service, e.plan, e.amount) for e in config.entitlements] == [("hana-cloud", "hana", 2)]
    assert config.labels == {"team": "a"}
    assert config.quota is not None and config.quota.hard() == {"pods": "10", "requests.cpu": "2"}
    assert config.timeouts.instance == 3600 and config.timeouts.binding == 120
    assert config.region is None


def test_from_pulumi_config_matches_the_stack_file_loader() -> None:
    """The program (engine strings) and the offline plan (YAML) build the same model from the same stack."""
    for path in discover_stacks(EXAMPLES):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        from_engine = from_pulumi_config(engine_values(document["config"]), source=str(path))
        assert from_engine.model_dump() == load_stack_file(path).model_dump()


def test_from_pulumi_config_bad_json_and_bool(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        from_pulumi_config(
            {
                "btp-infra:namespace": "incident",
                "btp-infra:subaccountId": GUID,
                "btp-infra:entitlements": "[{service: hana}]",
                "btp-infra:mtls": "yes",
            },
            source="stacks/Pulumi.t.yaml",
        )
    lines = str(info.value).splitlines()
    assert lines[0].startswith(
        "stacks/Pulumi.t.yaml: btp-infra:entitlements: '[{service: hana}]' — is not valid JSON (Expecting "
    )
    assert "valid: a list of {service, plan, amount?} mappings" in lines[0]
    assert lines[1] == (
        "stacks/Pulumi.t.yaml: btp-infra:mtls: 'yes' — must be true or false; "
        "valid: true or false (Istio PeerAuthentication STRICT)"
    )


def test_config_keys_are_the_models_and_the_readmes() -> None:
    """CONFIG_KEYS (used before any model exists, e.g. for redaction) is exactly the model's keys, and each
    has its row in README's key table."""
    assert set(CONFIG_KEYS) == {field.alias or name for name, field in TenantConfig.model_fields.items()}
    assert len(CONFIG_KEYS) == len(set(CONFIG_KEYS))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert [k for k in CONFIG_KEYS if f"\n| `{k}` |" not in readme] == []


def test_config_model_is_frozen() -> None:
    config = parse_config(BASE)
    with pytest.raises(ValueError, match="frozen"):
        config.namespace = "other"


# ----------------------------------------------------------------------------------------------------
# Stack files and the fleet
# ----------------------------------------------------------------------------------------------------


def test_stack_file_helpers(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: btp-infra\nstackConfigDir: stacks\n", encoding="utf-8")
    (tmp_path / "stacks").mkdir()
    write_stack(tmp_path / "stacks", BASE, "b")
    write_stack(tmp_path / "stacks", {**BASE, "namespace": "other", "subaccountId": OTHER_GUID}, "a")
    assert stack_file_for("b", tmp_path) == tmp_path / "stacks" / "Pulumi.b.yaml"
    assert stack_file_for("my-org/btp-infra/b", tmp_path) == tmp_path / "stacks" / "Pulumi.b.yaml"
    assert discover_stacks(tmp_path) == [
        tmp_path / "stacks" / "Pulumi.a.yaml",
        tmp_path / "stacks" / "Pulumi.b.yaml",
    ]
    assert stack_name_of(tmp_path / "stacks" / "Pulumi.a.yaml") == "a"
    assert set(load_fleet(tmp_path)) == {"a", "b"}
    # Without stackConfigDir the stack files sit next to Pulumi.yaml, which is not a stack.
    (tmp_path / "Pulumi.yaml").write_text("name: btp-infra\n", encoding="utf-8")
    write_stack(tmp_path, BASE, "c")
    assert discover_stacks(tmp_path) == [tmp_path / "Pulumi.c.yaml"]


def test_fleet_rejects_a_namespace_or_subaccount_mapped_twice(tmp_path: Path) -> None:
    first = write_stack(tmp_path, BASE, "first")
    second = write_stack(tmp_path, {**BASE, "namespace": "incident", "subaccountId": OTHER_GUID}, "second")
    third = write_stack(tmp_path, {**BASE, "namespace": "third", "subaccountId": GUID}, "third")
    configs = {stack_name_of(p): load_stack_file(p) for p in (first, second, third)}
    lines = [issue.render() for issue in validate_fleet(configs)]
    assert lines == [
        f"{second}: btp-infra:namespace: 'incident' — is also mapped by {first} on the same cluster "
        "(kubeContext 'kyma'); valid: a namespace that no other stack maps on this cluster (one namespace = "
        "one stack = one subaccount)",
        f"{third}: btp-infra:subaccountId: '{GUID}' — is also mapped by {first}; valid: a subaccount that no "
        "other stack maps, on any cluster (one subaccount = one stack = one namespace)",
    ]


def test_fleet_allows_one_namespace_on_two_clusters_but_one_subaccount_fleet_wide() -> None:
    third = "9c1e2d3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f"
    dev = parse_config(
        {"namespace": "orders", "subaccountId": GUID, "kubeContext": "dev"}, source="Pulumi.orders-dev.yaml"
    )
    prod = parse_config(
        {"namespace": "orders", "subaccountId": OTHER_GUID, "kubeContext": "prod"},
        source="Pulumi.orders-prod.yaml",
    )
    assert validate_fleet({"orders-dev": dev, "orders-prod": prod}) == []
    twin = parse_config(
        {"namespace": "orders", "subaccountId": third, "kubeContext": "prod"}, source="Pulumi.twin.yaml"
    )
    shared = parse_config(
        {"namespace": "billing", "subaccountId": GUID, "kubeContext": "prod"}, source="Pulumi.shared.yaml"
    )
    lines = [i.render() for i in validate_fleet({"a": dev, "b": prod, "c": twin, "d": shared})]
    assert lines == [
        "Pulumi.twin.yaml: btp-infra:namespace: 'orders' — is also mapped by Pulumi.orders-prod.yaml on the "
        "same cluster (kubeContext 'prod'); valid: a namespace that no other stack maps on this cluster (one "
        "namespace = one stack = one subaccount)",
        f"Pulumi.shared.yaml: btp-infra:subaccountId: '{GUID}' — is also mapped by Pulumi.orders-dev.yaml; "
        "valid: a subaccount that no other stack maps, on any cluster (one subaccount = one stack = one "
        "namespace)",
    ]


def test_fleet_rejects_a_tenant_namespace_that_is_another_stacks_management_namespace() -> None:
    management = parse_config(
        {**BASE, "secretPlacement": "management", "managementNamespace": "btp-secrets"}, source="a.yaml"
    )
    clash = parse_config({**BASE, "namespace": "btp-secrets", "subaccountId": OTHER_GUID}, source="b.yaml")
    issues = validate_fleet({"a": management, "b": clash})
    assert [i.render() for i in issues] == [
        "b.yaml: btp-infra:namespace: 'btp-secrets' — is the management namespace of a.yaml; "
        "valid: a tenant namespace that is not any stack's managementNamespace on this cluster"
    ]


def test_load_fleet_collects_file_and_fleet_issues(tmp_path: Path) -> None:
    write_stack(tmp_path, BASE, "one")
    write_stack(tmp_path, BASE, "two")
    write_stack(tmp_path, {"namespace": "Bad"}, "three")
    with pytest.raises(ConfigError) as info:
        load_fleet(tmp_path)
    text = str(info.value)
    assert "Pulumi.three.yaml: btp-infra:namespace: 'Bad'" in text
    assert "Pulumi.three.yaml: btp-infra:subaccountId: (missing)" in text
    assert (
        f"Pulumi.two.yaml: btp-infra:namespace: 'incident' — is also mapped by {tmp_path / 'Pulumi.one.yaml'}"
        in text
    )


def test_tenant_config_validates_directly() -> None:
    config = TenantConfig.model_validate(BASE)
    assert config.source == "<config>"
    assert validate_fleet({"x": config, "y": config})[0].source == "y"


# ----------------------------------------------------------------------------------------------------
# One definition of every shared name
# ----------------------------------------------------------------------------------------------------


def test_config_model_and_policy_share_the_system_namespaces() -> None:
    from btp_infra import config as config_module
    from btp_infra import conventions
    from btp_infra.policy import rules

    assert config_module.SYSTEM_NAMESPACES is rules.SYSTEM_NAMESPACES is conventions.SYSTEM_NAMESPACES
    assert {"compass-system", "kyma-integration"} <= conventions.SYSTEM_NAMESPACES
    assert rules.RESERVED_PREFIX == conventions.RESERVED_NAMESPACE_PREFIX
    shared = (conventions.LABEL_TENANT, conventions.LABEL_SUBACCOUNT)
    assert shared == (rules.LABEL_TENANT, rules.LABEL_SUBACCOUNT)


@pytest.mark.parametrize("namespace", ["compass-system", "kyma-integration"])
def test_config_model_refuses_every_system_namespace_of_the_policy(namespace: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({**BASE, "namespace": namespace}, source="stacks/Pulumi.t.yaml")
    assert f"btp-infra:namespace: '{namespace}' — is a system namespace" in str(info.value)


# ----------------------------------------------------------------------------------------------------
# x509 binding settings
# ----------------------------------------------------------------------------------------------------

X509_BASE: dict[str, Any] = {**BASE, "credentialType": "x509"}


def test_x509_settings_become_binding_parameters() -> None:
    assert parse_config(X509_BASE).binding_parameters == {}  # Service Manager's defaults (7 days, 2048 bits)
    config = parse_config({**X509_BASE, "x509": {"validity": "30d", "keyLength": 4096}})
    assert config.binding_parameters == {
        "x509": {"key-length": 4096, "validity": 30, "validity-type": "DAYS"}
    }
    assert (
        parse_config({**X509_BASE, "x509": {"validity": 14}}).binding_parameters["x509"]["key-length"] == 2048
    )
    values = {**X509_BASE, "kubeContext": "prod", "x509": {"validity": "3d"}}
    engine = from_pulumi_config(
        engine_values({f"btp-infra:{k}": v for k, v in values.items()}), source="stacks/Pulumi.t.yaml"
    )  # the engine hands x509 over as JSON text
    assert engine.binding_parameters == {"x509": {"key-length": 2048, "validity": 3, "validity-type": "DAYS"}}


@pytest.mark.parametrize(
    ("extra", "line"),
    [
        (
            {"credentialType": "client-secret", "x509": {"validity": "30d"}},
            "btp-infra:x509: {'validity': 30, 'keyLength': 2048} — is only used with credentialType: x509 "
            "(here credentialType is client-secret); valid: remove x509, or set credentialType: x509",
        ),
        ({"x509": {"validity": "30m"}}, "btp-infra:x509.validity: '30m' — is not a duration in days"),
        ({"x509": {"validity": 0}}, "btp-infra:x509.validity: 0 — is out of range"),
        ({"x509": {"validity": "3651d"}}, "btp-infra:x509.validity: '3651d' — is out of range"),
        ({"x509": {"keyLength": 1024}}, "btp-infra:x509.keyLength: 1024 — is not a supported key length"),
        ({"x509": {"lifetime": 3}}, "btp-infra:x509.lifetime: 3 — is not a known key"),
    ],
)
def test_invalid_x509_settings(extra: dict[str, Any], line: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({**X509_BASE, **extra}, source="stacks/Pulumi.t.yaml")
    assert f"stacks/Pulumi.t.yaml: {line}" in str(info.value)

"""The pack's metadata, its config handling (what the CLI does before the analyzer) and the shipped files."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from policy_helpers import T_NAMESPACE, analyze_request, namespace_props
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

from btp_infra.config import CONFIG_KEYS
from btp_infra.offline.analyzer import (
    PackAnalyzer,
    PolicyConfigError,
    load_policy_config,
    resolve_policy_config,
)
from btp_infra.policy import policies, rules
from btp_infra.policy.policies import (
    ALL_POLICIES,
    PACK_NAME,
    PACK_VERSION,
    POLICY_LIMIT_RANGE,
    POLICY_NAMESPACE_LABELS,
    POLICY_NAMESPACE_PROTECTED,
    POLICY_OPERATOR_SECRET,
    POLICY_RESOURCE_QUOTA,
)

ROOT = Path(__file__).resolve().parents[2]
PACK_DIR = ROOT / "policies"


def test_policy_metadata() -> None:
    names = [p.name for p in ALL_POLICIES]
    assert len(names) == len(set(names)) == 13
    for policy in ALL_POLICIES:
        assert policy.name.startswith("btp-tenant-") and policy.name == policy.name.lower()
        assert policy.description and policy.severity is not None and policy.enforcement_level is not None
        assert isinstance(policy, ResourceValidationPolicy | StackValidationPolicy)
    levels = {p.name: p.enforcement_level for p in ALL_POLICIES}
    assert levels[POLICY_RESOURCE_QUOTA] == levels[POLICY_LIMIT_RANGE] == EnforcementLevel.ADVISORY
    assert levels[POLICY_NAMESPACE_PROTECTED] == EnforcementLevel.ADVISORY
    assert levels[POLICY_OPERATOR_SECRET] == levels[POLICY_NAMESPACE_LABELS] == EnforcementLevel.MANDATORY


def test_pack_files() -> None:
    manifest = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())
    assert manifest["runtime"]["name"] == "python"
    assert str(manifest["version"]) == PACK_VERSION
    assert manifest["description"]
    main = (PACK_DIR / "__main__.py").read_text()
    assert "PolicyPack(" in main and "ALL_POLICIES" in main and "PACK_NAME" in main
    assert "def " not in main, "__main__.py holds only PolicyPack(...): rules live in btp_infra.policy"
    # The pack runs in the project's virtualenv (tests/test_install_paths.py): no requirement of its own.
    assert manifest["runtime"]["options"]["virtualenv"] == "../venv"
    assert PACK_NAME == "btp-infra-tenant-guardrails"


def test_config_example_shows_every_knob_and_is_valid() -> None:
    raw = load_policy_config(PACK_DIR / "config.example.json")
    settings = resolve_policy_config(raw)
    # The pack's policies and btp-infra plan's own (one file for both tools: the engine passes entries for
    # policies a pack does not declare through, see tests/test_install_paths.py).
    assert set(raw) - {"all"} == {p.name for p in ALL_POLICIES} | set(policies.PLAN_POLICIES)
    for policy in ALL_POLICIES:
        schema = policy.config_schema.properties if policy.config_schema else {}
        entry = raw[policy.name]
        for key in schema:
            assert isinstance(entry, dict) and key in entry, (
                f"{policy.name}.{key} is missing from the example"
            )
            assert settings[policy.name].properties[key] == entry[key]


def test_defaults_come_from_the_policies_and_schemas() -> None:
    settings = resolve_policy_config(None)
    assert settings[POLICY_RESOURCE_QUOTA].enforcement_level == EnforcementLevel.ADVISORY
    assert settings[POLICY_OPERATOR_SECRET].properties == {
        "managementNamespaces": ["kyma-system"],
        "allowedPlacements": ["namespace", "management"],
    }


def test_all_then_specific_levels() -> None:
    settings = resolve_policy_config(
        {"all": "disabled", POLICY_NAMESPACE_LABELS: {"enforcementLevel": "advisory"}}
    )
    assert settings[POLICY_OPERATOR_SECRET].enforcement_level == EnforcementLevel.DISABLED
    assert settings[POLICY_NAMESPACE_LABELS].enforcement_level == EnforcementLevel.ADVISORY


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"no-such-policy": "mandatory"}, "unknown policies: no-such-policy"),
        ({POLICY_RESOURCE_QUOTA: "blocking"}, "must be one of advisory, mandatory"),
        ({POLICY_NAMESPACE_LABELS: {"requiredLabel": ["x"]}}, "has no property 'requiredLabel'"),
        ({POLICY_NAMESPACE_LABELS: {"requiredLabels": "cost-center"}}, "must be of type array"),
        (
            {POLICY_OPERATOR_SECRET: {"allowedPlacements": ["cluster"]}},
            "must be one of namespace, management",
        ),
        ({POLICY_OPERATOR_SECRET: {"managementNamespaces": []}}, "at least 1 item"),
        ({"btp-tenant-entitlement-allowed": {"allowedPlans": ["hana"]}}, "does not match"),
        ({POLICY_RESOURCE_QUOTA: 3}, "must be an enforcement level or an object"),
    ],
)
def test_invalid_config_is_rejected(raw: dict[str, Any], needle: str) -> None:
    with pytest.raises(PolicyConfigError, match=None) as info:
        resolve_policy_config(raw)
    assert needle in str(info.value)


def test_a_huge_invalid_value_is_named_in_one_short_line() -> None:
    with pytest.raises(PolicyConfigError) as info:
        resolve_policy_config({"btp-tenant-entitlement-allowed": {"allowedPlans": ["x" * 1_000_000]}})
    message = str(info.value)
    assert "does not match" in message and len(message) < 300 and "\n" not in message


def test_unreadable_config_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyConfigError, match="cannot read"):
        load_policy_config(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(PolicyConfigError, match="not valid JSON"):
        load_policy_config(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(PolicyConfigError, match="JSON object"):
        load_policy_config(tmp_path / "list.json")


def test_enforcement_levels_reach_the_servicer() -> None:
    request = analyze_request(T_NAMESPACE, "ns", namespace_props(), protect=False)
    assert [d.enforcement_level for d in PackAnalyzer().analyze(request)] == ["advisory"]
    assert [
        d.enforcement_level for d in PackAnalyzer({POLICY_NAMESPACE_PROTECTED: "mandatory"}).analyze(request)
    ] == ["mandatory"]
    assert PackAnalyzer({POLICY_NAMESPACE_PROTECTED: "disabled"}).analyze(request) == []
    assert json.dumps(PackAnalyzer().settings[POLICY_NAMESPACE_PROTECTED].properties) == "{}"


def test_fix_hints_name_real_config_keys() -> None:
    """Every ``btp-infra:<key>`` a violation message tells users to set exists in the config model."""
    sources = Path(rules.__file__).read_text() + Path(policies.__file__).read_text()
    mentioned = set(re.findall(r"btp-infra:([A-Za-z][A-Za-z0-9]*)", sources))
    assert mentioned, "the rules point users at stack-file keys"
    assert mentioned <= set(CONFIG_KEYS), mentioned - set(CONFIG_KEYS)

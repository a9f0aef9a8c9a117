"""The pack and a subaccount the stack creates (issue 14): ``btp-tenant-subaccount-replacement`` (mandatory)
refuses a changed subdomain or region unless allowed, and the mapping rule reads a created ``Subaccount`` as
it reads a ``SubaccountCheck``."""

from __future__ import annotations

from typing import Any

from policy_helpers import SUBACCOUNT
from pulumi_policy import EnforcementLevel
from test_policy_rules import T_SUBACCOUNT, _record, _tenant_graph

from btp_infra.conventions import TYPE_SUBACCOUNT_LIFECYCLE
from btp_infra.policy import policies, rules

CHANGE = {"region": {"from": "eu10", "to": "us10"}, "subdomain": {"from": "acme-a", "to": "acme-b"}}


def created(**props: Any) -> dict[str, Any]:
    return {"displayName": "A", "subdomain": "acme-a", "region": "eu10", "subaccountId": SUBACCOUNT, **props}


def test_the_replacement_rule_is_mandatory_and_in_the_pack() -> None:
    [policy] = [p for p in policies.ALL_POLICIES if p.name == policies.POLICY_SUBACCOUNT_REPLACEMENT]
    assert policy.enforcement_level == EnforcementLevel.MANDATORY


def test_a_replacement_is_flagged_naming_both_keys_unless_allowed() -> None:
    [message] = rules.check_subaccount_replacement("tenant-subaccount", created(identityChange=CHANGE))
    assert "region 'eu10' → 'us10', subdomain 'acme-a' → 'acme-b'" in message
    assert "allowSubaccountReplacement" in message
    allowed = created(identityChange=CHANGE, allowReplacement=True)
    assert rules.check_subaccount_replacement("tenant-subaccount", allowed) == []
    assert rules.check_subaccount_replacement("tenant-subaccount", created()) == []


def test_the_mapping_rule_knows_a_created_subaccount() -> None:
    graph = _tenant_graph(subaccount=_record(TYPE_SUBACCOUNT_LIFECYCLE, "sub", created()))
    assert rules.check_mapping_unique(graph) == []
    other = _tenant_graph(
        subaccount=_record(TYPE_SUBACCOUNT_LIFECYCLE, "sub", created(subaccountId="0" * 8 + SUBACCOUNT[8:]))
    )
    assert any("its BTP resources use subaccount" in v.message for v in rules.check_mapping_unique(other))
    twice = [*_tenant_graph(), _record(TYPE_SUBACCOUNT_LIFECYCLE, "sub2", created(), parent=None)]
    assert any("is checked by 2 subaccount resources" in v.message for v in rules.check_mapping_unique(twice))
    assert T_SUBACCOUNT in rules.SUBACCOUNT_TYPES

"""Each dynamic resource declares its wire keys once (``providers/spec.py``); check, diff, props and outputs
derive from that declaration, and the declaration itself refuses shapes the engine would punish."""

from __future__ import annotations

from typing import Any, TypedDict

import pytest
from pulumi.output import Unknown

from btp_infra.conventions import BEHAVIOUR_KEYS, PROVIDER_KEY
from btp_infra.providers import binding, entitlement, instance, sm_access, subaccount
from btp_infra.providers.spec import ResourceSpec, optional_timeout, required_str

SPECS = {
    "SubaccountCheck": subaccount.SPEC,
    "ServiceManagerAccess": sm_access.SPEC,
    "SubaccountEntitlement": entitlement.SPEC,
    "ServiceInstance": instance.SPEC,
    "ServiceBinding": binding.SPEC,
}


class _In(TypedDict):
    subaccountId: str
    timeoutSeconds: float


class _Out(TypedDict):
    state: str


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_every_resource_declares_a_sound_shape(kind: str) -> None:
    spec = SPECS[kind]
    assert "subaccountId" in spec.inputs and "subaccountId" in spec.replace_on
    assert not set(spec.replace_on) & set(BEHAVIOUR_KEYS)
    assert set(spec.behaviour) == set(spec.inputs) & set(BEHAVIOUR_KEYS)
    props = spec.props({})
    assert list(props) == [*spec.inputs, *spec.outputs] and set(props.values()) == {None}
    assert PROVIDER_KEY not in props


def test_the_declaration_refuses_what_the_engine_would_punish() -> None:
    with pytest.raises(ValueError, match="behaviour-only inputs cannot force replacement"):
        ResourceSpec.of(_In, _Out, replace_on=("timeoutSeconds",))
    with pytest.raises(ValueError, match="not inputs"):
        ResourceSpec.of(_In, _Out, replace_on=("state",))
    with pytest.raises(ValueError, match="not inputs"):
        ResourceSpec.of(_In, _Out, checks={"nope": required_str})
    spec = ResourceSpec.of(_In, _Out, replace_on=("subaccountId",))
    with pytest.raises(ValueError, match="not inputs of this resource"):
        spec.props({"subaccountId": "x", "typo": 1})


def test_check_diff_and_behaviour_come_from_the_declaration() -> None:
    spec = ResourceSpec.of(
        _In,
        _Out,
        replace_on=("subaccountId",),
        checks={"subaccountId": required_str, "timeoutSeconds": optional_timeout},
    )
    bad = spec.check({"subaccountId": "", "timeoutSeconds": -1, PROVIDER_KEY: "p"})
    assert [f.property for f in bad.failures] == ["subaccountId", "timeoutSeconds"]
    assert PROVIDER_KEY not in (bad.inputs or {})
    unknown: Any = Unknown()  # type: ignore[no-untyped-call]
    assert spec.check({"subaccountId": unknown}).failures == []
    olds = {"subaccountId": "a", "timeoutSeconds": 60, "state": "OK"}
    same = spec.diff(olds, {"subaccountId": "a", "timeoutSeconds": 60})
    assert not same.changes  # computed outputs are never compared
    timeout_only = spec.diff(olds, {"subaccountId": "a", "timeoutSeconds": 90})
    assert timeout_only.changes and not timeout_only.replaces
    assert spec.behaviour_only(olds, {"subaccountId": "a", "timeoutSeconds": 90})
    moved = spec.diff(olds, {"subaccountId": unknown, "timeoutSeconds": 60})
    assert moved.replaces == ["subaccountId"]
    assert spec.inputs_of({**olds, "extra": 1}) == {"subaccountId": "a", "timeoutSeconds": 60}

"""Each shared name has one definition (btp_infra/conventions.py): no other product module spells its value.

The scan reads every module of ``btp_infra`` except the emulator (``btp_infra/sandbox`` plays BTP, whose
catalog and wire names it must spell itself) and looks for string constants equal to a shared name's value
(docstrings aside). A hit is a copy that can drift — import the name instead.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from btp_infra import conventions

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "btp_infra"
#: The names whose spelling must appear once: every other module imports them. (Members of sets such as
#: SYSTEM_NAMESPACES are not pinned: a network policy may name ``istio-system`` as a peer, a binding's
#: ``clientsecret`` is BTP's field name; nor is OPERATOR_OFFERING, ``service-manager``, which is also the
#: name the Service Manager client gives its API in messages.)
PINNED = (
    "CONFIG_CIS_KEY",
    "CONFIG_KEYRING_PROFILE",
    "CONFIG_CREDENTIAL_ROTATION",
    "DYNAMIC_TYPE_PREFIX",
    "LABEL_ISTIO_INJECTION",
    "LABEL_MANAGED_BY",
    "LABEL_OPERATOR_CONFIG",
    "LABEL_OPERATOR_MANAGED",
    "LABEL_SUBACCOUNT",
    "LABEL_TENANT",
    "OPERATOR_PLAN",
    "OPERATOR_SECRET_BASE_NAME",
    "PROVIDER_KEY",
    "SECRET_SIG_KEY",
    "SECRET_SIG_VALUE",
    "SM_MANAGED_BY_LABEL",
    "SM_TENANT_LABEL",
    "TOKEN_URL_SUFFIX",
    "TYPE_ENTITLEMENT",
    "TYPE_KUBERNETES_PROVIDER",
    "TYPE_LIMIT_RANGE",
    "TYPE_NAMESPACE",
    "TYPE_RESOURCE_QUOTA",
    "TYPE_SECRET",
    "TYPE_SERVICE_BINDING",
    "TYPE_SERVICE_INSTANCE",
    "TYPE_SM_ACCESS",
    "TYPE_SUBACCOUNT",
    "TYPE_SUBACCOUNT_LIFECYCLE",
    "TYPE_TENANT_NAMESPACE",
    # issue 13 (kube access): the operator's custom resources
    "OPERATOR_API_GROUP",
    "OPERATOR_BINDING_PLURAL",
    "OPERATOR_FINALIZER",
    "OPERATOR_INSTANCE_PLURAL",
    "IDENTITY_CHANGE_KEY",
)


def shared_values() -> dict[str, str]:
    """value → the conventions name that owns it."""
    return {getattr(conventions, name): name for name in PINNED}


def string_constants(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_shared_names_are_spelled_only_in_conventions() -> None:
    values = shared_values()
    assert len(values) == len(PINNED)  # distinct values
    copies = [
        f"{path.relative_to(ROOT)}:{line}: {text!r} is conventions.{values[text]}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "conventions.py" and "sandbox" not in path.relative_to(PACKAGE).parts
        for line, text in string_constants(path)
        if text in values
    ]
    assert copies == [], "\n".join(copies)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("90", 90), ("90s", 90), ("30m", 1800), ("1h30m", 5400), (1.2, 2), ("24h", 86400)],
)
def test_one_duration_grammar(value: object, expected: int) -> None:
    assert conventions.parse_duration(value) == expected


@pytest.mark.parametrize("value", ["0", "0.5s", "25h", "1d", "", True, None, "-1", float("nan"), 10**30])
def test_durations_out_of_grammar_are_refused(value: object) -> None:
    with pytest.raises(ValueError):
        conventions.parse_duration(value)


def test_names_derive_from_one_rule() -> None:
    assert conventions.instance_name("orders") == "btp-infra-orders-operator-access"
    assert conventions.binding_name("orders", "x509") == "btp-infra-orders-operator-access-x509"
    assert conventions.config_key("namespace") == "btp-infra:namespace"
    assert conventions.is_system_namespace("kube-anything") and conventions.is_system_namespace("kyma-system")
    assert not conventions.is_system_namespace("orders")
    assert conventions.TYPE_SERVICE_BINDING.startswith(conventions.DYNAMIC_TYPE_PREFIX)

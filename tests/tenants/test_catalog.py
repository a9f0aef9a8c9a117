"""``list_tenants``, ``show_tenant`` and ``remove_tenant``: rows for a table and JSON, the redacted config,
and a removal that deletes the file only, never while the stack may still have resources (unless forced)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from btp_infra.tenants import TenantError, TenantRow, add_tenant, list_tenants, remove_tenant, show_tenant

Listing = Callable[[Path], dict[str, bytes]]

ENCRYPTED_KUBECONFIG = "  btp-infra:kubeconfig:\n    secure: v1:AAAAbase64kubeconfig==\n"
ENCRYPTED_CIS = "  btp-infra:cisServiceKey:\n    secure: v1:BBBBbase64ciskey==\n"


def guid(index: int) -> str:
    return str(uuid.UUID(int=index + 1, version=4))


@pytest.fixture
def fleet(stacks: Path) -> Path:
    add_tenant(
        "orders", namespace="orders", subaccount_id=guid(0), kube_context="kyma-prod", stacks_dir=stacks
    )
    add_tenant(
        "billing",
        namespace="billing",
        subaccount_id=guid(1),
        kube_context="kyma-dev",
        cluster_identifier="dev-eu",
        region="eu10",
        credential_type="x509",
        secret_placement="management",
        protect=True,
        stacks_dir=stacks,
    )
    return stacks


# ---- list ---------------------------------------------------------------------------------------


def test_list_has_one_row_per_stack_file_sorted(fleet: Path) -> None:
    rows = list_tenants(fleet)
    assert [row.stack for row in rows] == ["billing", "orders"]
    billing, orders = rows
    assert billing == TenantRow(
        stack="billing",
        file=str(fleet / "Pulumi.billing.yaml"),
        namespace="billing",
        subaccount=guid(1),
        region="eu10",
        cluster="dev-eu",
        context="kyma-dev",
        credential_type="x509",
        placement="management",
        protect=True,
    )
    assert orders.cells() == (
        "orders",
        "orders",
        guid(0),
        "-",
        "kyma-prod",
        "client-secret",
        "namespace",
        "no",
    )
    assert len(orders.cells()) == len(TenantRow.COLUMNS) == len(orders.COLUMNS)


def test_list_rows_are_json(fleet: Path) -> None:
    data = json.loads(json.dumps([row.as_dict() for row in list_tenants(fleet)]))
    assert data[0] == {
        "stack": "billing",
        "file": str(fleet / "Pulumi.billing.yaml"),
        "namespace": "billing",
        "subaccountId": guid(1),
        "region": "eu10",
        "cluster": "dev-eu",
        "kubeContext": "kyma-dev",
        "credentialType": "x509",
        "secretPlacement": "management",
        "protect": True,
        "error": None,
    }


def test_an_invalid_stack_file_is_listed_with_its_error(fleet: Path) -> None:
    (fleet / "Pulumi.broken.yaml").write_text("config:\n  btp-infra:namespace: kube-system\n")
    broken = list_tenants(fleet)[1]
    assert broken.stack == "broken" and broken.namespace is None
    assert broken.error is not None
    assert broken.error.startswith("btp-infra:namespace: 'kube-system' — is a system namespace")
    assert broken.error.endswith("(+2 more)")
    assert broken.cells()[1].startswith("invalid: ")


def test_list_of_an_empty_directory_is_empty(stacks: Path) -> None:
    assert list_tenants(stacks) == []


def test_list_never_shows_secrets(stacks: Path) -> None:
    (stacks / "Pulumi.enc.yaml").write_text(
        f"config:\n  btp-infra:namespace: enc\n  btp-infra:subaccountId: {guid(4)}\n"
        f"  btp-infra:kubeContext: k\n{ENCRYPTED_KUBECONFIG}{ENCRYPTED_CIS}"
    )
    text = json.dumps([row.as_dict() for row in list_tenants(stacks)])
    assert "base64" not in text


# ---- show ---------------------------------------------------------------------------------------


def test_show_returns_the_config_with_defaults(fleet: Path) -> None:
    shown = show_tenant("billing", fleet)
    assert shown["stack"] == "billing" and shown["file"] == str(fleet / "Pulumi.billing.yaml")
    config = shown["config"]
    assert isinstance(config, dict)
    assert config["namespace"] == "billing" and config["credentialType"] == "x509"
    assert config["managementNamespace"] == "kyma-system"
    assert config["timeouts"] == {"entitlement": 1200, "adminAccess": 600, "instance": 1800, "binding": 600}
    json.dumps(shown)


def test_show_redacts_secrets(stacks: Path) -> None:
    (stacks / "Pulumi.enc.yaml").write_text(
        f"config:\n  btp-infra:namespace: enc\n  btp-infra:subaccountId: {guid(4)}\n"
        f"  btp-infra:kubeContext: k\n{ENCRYPTED_KUBECONFIG}{ENCRYPTED_CIS}"
    )
    shown = show_tenant("enc", stacks)
    config = shown["config"]
    assert isinstance(config, dict)
    assert config["kubeconfig"] == "[secret]" and config["cisServiceKey"] == "[secret]"
    assert "base64" not in json.dumps(shown)


def test_show_of_an_unknown_tenant_names_the_known_ones(fleet: Path) -> None:
    with pytest.raises(TenantError) as caught:
        show_tenant("ordres", fleet)
    text = str(caught.value)
    assert "no stack file for tenant 'ordres'" in text
    assert "valid: one of the stacks: billing, orders" in text


def test_show_of_an_invalid_file_raises_its_issues(fleet: Path) -> None:
    (fleet / "Pulumi.broken.yaml").write_text("config:\n  btp-infra:namespace: kube-system\n")
    with pytest.raises(TenantError, match="is a system namespace"):
        show_tenant("broken", fleet)


def test_show_finds_a_yml_file(stacks: Path) -> None:
    (stacks / "Pulumi.legacy.yml").write_text(
        f"config:\n  btp-infra:namespace: legacy\n  btp-infra:subaccountId: {guid(9)}\n"
        "  btp-infra:kubeContext: k\n"
    )
    assert show_tenant("legacy", stacks)["file"] == str(stacks / "Pulumi.legacy.yml")


# ---- remove -------------------------------------------------------------------------------------


def test_remove_deletes_only_the_file_when_the_stack_is_empty(fleet: Path, listing: Listing) -> None:
    asked: list[str] = []

    def has_resources(stack: str) -> bool:
        asked.append(stack)
        return False

    before = listing(fleet)
    path = remove_tenant("orders", fleet, has_resources=has_resources)
    assert path == fleet / "Pulumi.orders.yaml" and not path.exists()
    assert asked == ["orders"]
    assert listing(fleet) == {k: v for k, v in before.items() if k != "Pulumi.orders.yaml"}


def test_remove_refuses_while_the_stack_has_resources(fleet: Path, listing: Listing) -> None:
    before = listing(fleet)
    with pytest.raises(TenantError) as caught:
        remove_tenant("billing", fleet, has_resources=lambda stack: True)
    text = str(caught.value)
    assert text.startswith(f"{fleet / 'Pulumi.billing.yaml'}: stack 'billing' still has resources")
    assert "pulumi destroy --stack billing" in text and "force" in text
    assert listing(fleet) == before


def test_remove_refuses_when_it_is_unknown_whether_resources_remain(fleet: Path, listing: Listing) -> None:
    before = listing(fleet)
    with pytest.raises(TenantError, match="cannot tell whether stack 'orders' still has resources"):
        remove_tenant("orders", fleet, has_resources=None)
    assert listing(fleet) == before


def test_remove_refuses_when_the_backend_fails(fleet: Path, listing: Listing) -> None:
    def unreachable(stack: str) -> bool:
        raise ConnectionError("backend file:///nowhere is not reachable\nsecond line")

    before = listing(fleet)
    with pytest.raises(TenantError) as caught:
        remove_tenant("orders", fleet, has_resources=unreachable)
    assert "(backend file:///nowhere is not reachable)" in str(caught.value)
    assert "second line" not in str(caught.value)
    assert listing(fleet) == before


@pytest.mark.parametrize("has_resources", [None, lambda stack: True])
def test_force_removes_the_file_anyway(fleet: Path, has_resources: Callable[[str], bool] | None) -> None:
    path = remove_tenant("billing", fleet, has_resources=has_resources, force=True)
    assert not path.exists()
    assert [row.stack for row in list_tenants(fleet)] == ["orders"]


def test_force_does_not_even_ask_the_backend(fleet: Path) -> None:
    def never(stack: str) -> bool:
        raise AssertionError("not asked")

    remove_tenant("orders", fleet, has_resources=never, force=True)


def test_remove_of_an_unknown_tenant_is_refused(fleet: Path, listing: Listing) -> None:
    before = listing(fleet)
    for name in ("nobody", "../orders", ""):
        with pytest.raises(TenantError, match="no stack file for tenant"):
            remove_tenant(name, fleet, has_resources=lambda stack: False)
    assert listing(fleet) == before


def test_a_removed_tenant_can_be_added_again(fleet: Path) -> None:
    remove_tenant("orders", fleet, has_resources=lambda stack: False)
    add_tenant(
        "orders", namespace="orders", subaccount_id=guid(0), kube_context="kyma-prod", stacks_dir=fleet
    )
    assert [row.stack for row in list_tenants(fleet)] == ["billing", "orders"]

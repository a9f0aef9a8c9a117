"""The ``__provider`` strings in existing stacks' state keep working.

Every dynamic resource stores its provider, dill-pickled *by reference*
(``btp_infra.providers.<module>.<Class>``), in ``__provider``; the engine keeps it in the resource's inputs
and outputs, and refresh and destroy, which do not run the program, unpickle exactly that string in
``python -m pulumi.dynamic``. Moving or renaming a provider class therefore breaks every existing stack.
``data/provider_pickles.json`` pins the strings as btp-infra wrote them; they must keep loading to the same
classes, here and in the real dynamic server.
"""

from __future__ import annotations

import base64
import importlib
import json
from pathlib import Path
from typing import Any

import dill
import pytest
from dynamic_host import PROJECT_DIR, DynamicProviderHost
from emulator_fixtures import SUBACCOUNT_1
from pulumi.runtime import proto

from btp_infra.providers.base import BtpProvider

from .test_engine_protocol import DYN, PROVIDER_CLASSES, resource_provider_strings

PINNED: dict[str, dict[str, str]] = json.loads(
    (Path(__file__).parent / "data" / "provider_pickles.json").read_text()
)["providers"]
CLASS_PATHS = {
    "SubaccountCheck": "btp_infra.providers.subaccount.SubaccountCheckProvider",
    "ServiceManagerAccess": "btp_infra.providers.sm_access.ServiceManagerAccessProvider",
    "SubaccountEntitlement": "btp_infra.providers.entitlement.SubaccountEntitlementProvider",
    "ServiceInstance": "btp_infra.providers.instance.ServiceInstanceProvider",
    "ServiceBinding": "btp_infra.providers.binding.ServiceBindingProvider",
    "Subaccount": "btp_infra.providers.subaccount_lifecycle.SubaccountProvider",
}
VALID: dict[str, dict[str, Any]] = {
    "SubaccountCheck": {"subaccountId": SUBACCOUNT_1, "namespace": "team-a"},
    "ServiceManagerAccess": {"subaccountId": SUBACCOUNT_1, "tenant": "team-a"},
    "SubaccountEntitlement": {"subaccountId": SUBACCOUNT_1, "serviceName": "s", "planName": "p"},
    "ServiceInstance": {
        "subaccountId": SUBACCOUNT_1,
        "name": "n",
        "serviceOfferingName": "o",
        "servicePlanName": "p",
    },
    "ServiceBinding": {
        "subaccountId": SUBACCOUNT_1,
        "serviceInstanceId": "i",
        "name": "n",
        "credentialType": "client-secret",
    },
    "Subaccount": {"displayName": "S", "subdomain": "acme-a", "region": "eu10", "namespace": "team-a"},
}


def import_path(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_the_pinned_data_covers_every_provider() -> None:
    assert sorted(PINNED) == sorted(CLASS_PATHS) == sorted(PROVIDER_CLASSES)
    assert {kind: entry["class"] for kind, entry in PINNED.items()} == CLASS_PATHS


@pytest.mark.parametrize("kind", sorted(CLASS_PATHS))
def test_class_paths_stay_importable(kind: str) -> None:
    cls = import_path(CLASS_PATHS[kind])
    assert cls is PROVIDER_CLASSES[kind] and issubclass(cls, BtpProvider)


@pytest.mark.parametrize("kind", sorted(CLASS_PATHS))
def test_pinned_strings_unpickle_to_the_right_classes(kind: str) -> None:
    provider = dill.loads(base64.b64decode(PINNED[kind]["__provider"]))
    assert type(provider) is import_path(CLASS_PATHS[kind])
    assert provider.check({}, VALID[kind]).failures == []


def test_new_state_still_refers_to_the_same_classes() -> None:
    """What resources store today loads to the pinned classes (the string itself may change with dill)."""
    for kind, current in resource_provider_strings().items():
        loaded = dill.loads(base64.b64decode(current))
        assert type(loaded) is import_path(PINNED[kind]["class"]), kind


def test_the_real_server_loads_the_pinned_strings() -> None:
    """``python -m pulumi.dynamic`` in a fresh interpreter, as on refresh and destroy of an existing stack."""
    with DynamicProviderHost(cwd=PROJECT_DIR) as host:
        host.configure({"btp-infra:namespace": "team-a"})
        for kind, entry in sorted(PINNED.items()):
            news = {**VALID[kind], "__provider": entry["__provider"]}
            urn = f"urn:pulumi:test::btp-infra::btp-infra:index:TenantNamespace${DYN}{kind}::tenant-{kind}"
            checked, failures = host.check(urn, {}, news)
            assert (failures, checked["__provider"]) == ([], entry["__provider"]), kind
            diff = host.diff(urn, "id", news, news)
            assert diff.changes == proto.DiffResponse.DIFF_NONE, kind

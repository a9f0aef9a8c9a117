"""Test machinery: a tenant set up by hand in the BTP emulator, as the Kyma multi-tenancy seed does it.

Owns :func:`make_by_hand`: the ``service-manager/service-operator-access`` entitlement, an instance and a
binding with names a person would choose (not btp-infra's), no btp-infra labels, and — as in the cockpit,
which needs no ``serviceManagementBinding`` — no admin access left behind unless asked. The binding's
credentials are returned so that a test can build the hand-made Secret from them (``kubectl create secret
generic sap-btp-service-operator --from-literal=clientid=…``) and compare.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from btp_infra.btp.accounts import AccountsClient
from btp_infra.btp.entitlements import EntitlementsClient
from btp_infra.btp.keys import CisServiceKey
from btp_infra.btp.service_manager import ServiceManagerClient
from btp_infra.btp.sm_models import CredentialType, binding_parameters
from btp_infra.conventions import OPERATOR_OFFERING, OPERATOR_PLAN

__all__ = ["HAND_BINDING", "HAND_INSTANCE", "HandMade", "make_by_hand", "make_instance_of"]

HAND_INSTANCE: Final = "kyma-ops-access"
"""The instance name of the seed's walkthrough (anything but btp-infra's deterministic name)."""
HAND_BINDING: Final = "kyma-ops-binding"


@dataclass(frozen=True)
class HandMade:
    """What was made by hand: ids, names, the binding's credentials (secret: test use only)."""

    subaccount: str
    instance_id: str
    instance_name: str
    binding_id: str
    binding_name: str
    credentials: Mapping[str, Any] = field(repr=False)


def _key(cis_key: Mapping[str, Any] | str) -> CisServiceKey:
    raw = cis_key if isinstance(cis_key, str) else json.dumps(cis_key)
    return CisServiceKey.parse(raw, source="test cis key")


def make_by_hand(
    cis_key: Mapping[str, Any] | str,
    subaccount: str,
    *,
    instance_name: str = HAND_INSTANCE,
    binding_name: str = HAND_BINDING,
    credential_type: str = "client-secret",
    keep_admin_access: bool = False,
    labels: Mapping[str, list[str]] | None = None,
) -> HandMade:
    """Entitle the operator plan, create an instance and a binding on it; remove the admin access used for
    that unless ``keep_admin_access``."""
    key = _key(cis_key)
    with AccountsClient(key) as accounts, EntitlementsClient(key) as entitlements:
        entitlements.assign(subaccount, OPERATOR_OFFERING, OPERATOR_PLAN)
        creds, created = accounts.ensure_service_management_binding(subaccount)
        with ServiceManagerClient(creds) as sm:
            instance = sm.create_instance(
                instance_name, offering=OPERATOR_OFFERING, plan=OPERATOR_PLAN, labels=labels
            )
            kind: CredentialType = "x509" if credential_type == "x509" else "client-secret"
            binding = sm.create_binding(
                binding_name, instance.id, parameters=binding_parameters(kind), labels=labels
            )
        if created and not keep_admin_access:
            accounts.delete_service_management_binding(subaccount)
    return HandMade(
        subaccount,
        instance.id,
        instance.name,
        binding.id,
        binding.name,
        dict(binding.credentials.get_secret_value()),
    )


def make_instance_of(
    cis_key: Mapping[str, Any] | str, subaccount: str, offering: str, plan: str, name: str
) -> str:
    """Another instance in ``subaccount`` (e.g. ``service-manager/subaccount-admin``); its id. The admin
    access used is kept (remove it with the Accounts API if the test needs it gone)."""
    key = _key(cis_key)
    with AccountsClient(key) as accounts:
        creds, _ = accounts.ensure_service_management_binding(subaccount)
    with ServiceManagerClient(creds) as sm:
        return sm.create_instance(name, offering=offering, plan=plan).id

"""The tenant's subaccount GUID for the day-2 operations: the mapped one (``btp-infra:subaccountId``), or the
one the stack created (``btp-infra:subaccount``), found as the ``Subaccount`` resource finds it — by the
identity labels btp-infra puts on it (:func:`btp_infra.providers.subaccount_lifecycle.identity_labels`)."""

from __future__ import annotations

from btp_infra.btp.accounts import AccountsClient
from btp_infra.config import TenantConfig
from btp_infra.providers.subaccount_lifecycle import identity_labels

__all__ = ["tenant_subaccount"]

_GONE = frozenset({"DELETING", "DELETION_FAILED"})


def tenant_subaccount(config: TenantConfig, accounts: AccountsClient) -> str | None:
    """The GUID of the tenant's subaccount; ``None`` when the stack creates one that does not exist (not
    created yet, or deleted with the tenant). A created one is this tenant's only when its labels say so and
    its subdomain is the configured one; one being deleted (or pending deletion) counts as gone."""
    if config.subaccount_id is not None:
        return config.subaccount_id
    subdomain = config.subaccount_subdomain
    for sub in accounts.find_subaccounts(identity_labels(config.namespace)):
        if sub.subdomain == subdomain and sub.state not in _GONE and not sub.pending_deletion:
            return sub.guid
    return None

"""Pulumi dynamic providers, one per BTP object, over the clients in :mod:`btp_infra.btp`.

Type tokens are ``pulumi-python:dynamic/btp:<Name>`` so that policies can target each kind.
"""

from btp_infra.providers.binding import ServiceBinding, ServiceBindingProvider
from btp_infra.providers.entitlement import SubaccountEntitlement, SubaccountEntitlementProvider
from btp_infra.providers.instance import ServiceInstance, ServiceInstanceProvider
from btp_infra.providers.sm_access import ServiceManagerAccess, ServiceManagerAccessProvider
from btp_infra.providers.subaccount import SubaccountCheck, SubaccountCheckProvider
from btp_infra.providers.subaccount_lifecycle import Subaccount, SubaccountProvider

__all__ = [
    "ServiceBinding",
    "ServiceBindingProvider",
    "ServiceInstance",
    "ServiceInstanceProvider",
    "ServiceManagerAccess",
    "ServiceManagerAccessProvider",
    "Subaccount",
    "SubaccountCheck",
    "SubaccountCheckProvider",
    "SubaccountEntitlement",
    "SubaccountEntitlementProvider",
    "SubaccountProvider",
]

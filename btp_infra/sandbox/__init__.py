"""Local emulator of the SAP BTP APIs btp-infra uses (XSUAA, Accounts, Entitlements, Service Manager).

Start it with ``SandboxServer(SandboxConfig(...))`` (a context manager) or ``serve()`` (the CLI); see
docs/architecture.md "BTP emulator" for paths and control endpoints.
"""

from btp_infra.sandbox.catalog import PlanSpec, default_catalog
from btp_infra.sandbox.config import (
    Latencies,
    RateLimit,
    SandboxConfig,
    SubaccountSeed,
    default_rate_limits,
    default_subaccounts,
)
from btp_infra.sandbox.faults import FaultSpec
from btp_infra.sandbox.server import SandboxServer, serve

__all__ = [
    "FaultSpec",
    "Latencies",
    "PlanSpec",
    "RateLimit",
    "SandboxConfig",
    "SandboxServer",
    "SubaccountSeed",
    "default_catalog",
    "default_rate_limits",
    "default_subaccounts",
    "serve",
]

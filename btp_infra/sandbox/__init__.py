"""Local emulator of the SAP BTP APIs btp-infra uses (XSUAA, Accounts, Entitlements, Service Manager).

Start it with ``SandboxServer(SandboxConfig(...))`` (a context manager) or ``serve()`` (the CLI); see
docs/architecture.md "BTP emulator" for paths and control endpoints.

Owns the package's public names. The configuration models import with btp-infra's own dependencies; the
server (``SandboxServer``, ``serve``) needs the ``sandbox`` extra (FastAPI, uvicorn) and is imported on first
use, so that importing this package never starts to load a web server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from btp_infra.sandbox.server import SandboxServer, serve

__all__ = [
    "EXTRA_HINT",
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

EXTRA_HINT = "the sandbox needs its server dependencies: install btp-infra[sandbox]"
"""What a missing ``sandbox`` extra says (one line)."""
_SERVER_NAMES = frozenset({"SandboxServer", "serve"})


def __getattr__(name: str) -> Any:
    """``SandboxServer`` and ``serve``, imported from the server module on first access."""
    if name not in _SERVER_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        server = importlib.import_module("btp_infra.sandbox.server")
    except ModuleNotFoundError as err:
        if err.name is not None and err.name.split(".")[0] in {
            "fastapi",
            "starlette",
            "uvicorn",
            "cryptography",
        }:
            raise ModuleNotFoundError(f"{EXTRA_HINT} ({err.name} is missing)", name=err.name) from err
        raise
    return getattr(server, name)

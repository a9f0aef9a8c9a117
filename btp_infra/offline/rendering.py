"""Render a tenant stack's resource graph under Pulumi mocks: no CLI, no cluster, no BTP, no credentials.

Owns the mocks (:class:`GraphMocks`: representative computed outputs), the recording monitor and
:func:`render`. Used by ``btp-infra plan``, the local engine and the tests. Each render gets a fresh event
loop and fresh runtime settings, so renders are independent. Dynamic BTP resources get representative
computed outputs (ids, and binding credentials of the documented shape with placeholder values) so that the
operator Secret is rendered by the production mapping code, exactly as ``pulumi up`` would build it.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks

from btp_infra.conventions import DEFAULT_CREDENTIAL_TYPE, PROJECT
from btp_infra.offline import _sdk
from btp_infra.offline.graph import (
    REDACTED,
    RenderedResource,
    RenderResult,
    is_secret_envelope,
    redact_secrets,
    unwrap_secrets,
)

__all__ = [
    "PLACEHOLDER_SECRET",
    "GraphMocks",
    "RecordingMonitor",
    "RenderResult",
    "RenderedResource",
    "fake_credentials",
    "is_secret_envelope",
    "redact_secrets",
    "render",
    "unwrap_secrets",
]

PLACEHOLDER_SECRET = "(computed secret)"


def fake_credentials(credential_type: str, region: str) -> dict[str, str]:
    """Binding credentials of the documented shape (btp-api.md §B.1) with placeholder values."""
    region = region or "eu10"
    common = {
        "clientid": "sb-operator-access!b1|service-manager!b1",
        "sm_url": f"https://service-manager.cfapps.{region}.hana.ondemand.com",
        "xsappname": "operator-access!b1|service-manager!b1",
    }
    if credential_type == "x509":
        return {
            **common,
            "certificate": PLACEHOLDER_SECRET,
            "key": PLACEHOLDER_SECRET,
            "certurl": f"https://subaccount.authentication.cert.{region}.hana.ondemand.com",
        }
    return {
        **common,
        "clientsecret": PLACEHOLDER_SECRET,
        "url": f"https://subaccount.authentication.{region}.hana.ondemand.com",
    }


class GraphMocks(pulumi_mocks.Mocks):
    """Echo inputs as state; give dynamic BTP resources representative computed outputs."""

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        state = dict(args.inputs)
        rid = f"{args.name}-id"
        kind = args.typ.rsplit(":", 1)[-1]
        if kind == "SubaccountCheck":
            region = unwrap_secrets(state.get("region")) or "eu10"
            state.update(subdomain="subaccount", subaccountRegion=region, state="OK", displayName=args.name)
            rid = str(state.get("subaccountId"))
        elif kind == "Subaccount":
            # Created by the stack: a stand-in GUID, the same for the same subdomain and region every run.
            subdomain, region = unwrap_secrets(state.get("subdomain")), unwrap_secrets(state.get("region"))
            rid = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{subdomain}.{region}.subaccount.btp-infra"))
            state.update(subaccountId=rid, state="OK", parentGuid=None, liveLabels=None)
        elif kind == "SubaccountEntitlement":
            state.update(state="OK", adopted=False)
        elif kind == "ServiceManagerAccess":
            tenant = unwrap_secrets(state.get("tenant"))
            state.update(
                smUrl="https://service-manager.cfapps.eu10.hana.ondemand.com",
                adopted=False,
                tenants=[tenant] if tenant else [],
            )
        elif kind == "ServiceInstance":
            state.update(instanceId=rid, ready=True)
        elif kind == "ServiceBinding":
            ctype = str(unwrap_secrets(state.get("credentialType")) or DEFAULT_CREDENTIAL_TYPE)
            state.update(bindingId=rid, credentials=fake_credentials(ctype, "eu10"))
        return rid, state

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that also records each registration's options and the stack outputs."""

    def __init__(self, mocks: pulumi_mocks.Mocks) -> None:
        super().__init__(mocks)
        self._lock = threading.Lock()
        self.registered: list[RenderedResource] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type == "pulumi:pulumi:Stack":
            return response
        timeouts = request.customTimeouts
        rendered = RenderedResource(
            urn=response.urn,
            type=request.type,
            name=request.name,
            custom=bool(request.custom),
            inputs=_sdk.deserialize_properties(struct=request.object),
            outputs=_sdk.mock_state(monitor=self, urn=response.urn),
            parent=request.parent or None,
            dependencies=list(request.dependencies),
            property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
            protect=bool(request.protect),
            provider=request.provider,
            additional_secret_outputs=list(request.additionalSecretOutputs),
            delete_before_replace=bool(request.deleteBeforeReplace),
            custom_timeouts={
                k: v
                for k, v in (
                    ("create", timeouts.create),
                    ("update", timeouts.update),
                    ("delete", timeouts.delete),
                )
                if v
            },
            import_id=request.importId or None,
            retain_on_delete=bool(request.retainOnDelete),
        )
        with self._lock:
            self.registered.append(rendered)
        return response


def render(
    stack: str,
    config: Mapping[str, str],
    program: Callable[[], Any],
    *,
    preview: bool = False,
    mocks: pulumi_mocks.Mocks | None = None,
    monitor: RecordingMonitor | None = None,
    calls_inline: bool = False,
) -> RenderResult:
    """Run ``program`` for ``stack`` with ``config`` (engine form: ``btp-infra:key`` → string) under mocks
    (``mocks``, or a ``monitor`` built around its own mocks).

    ``calls_inline``: the monitor's calls run on the render's own thread (:func:`_sdk.calls_inline`; for
    mocks that answer at once, such as :class:`GraphMocks` — not for ones that do I/O).
    """
    _sdk.restore_pickler()  # each render starts from the original pickler (no RecursionError after many)
    loop = asyncio.new_event_loop()
    if calls_inline:
        _sdk.calls_inline(loop=loop)
    asyncio.set_event_loop(loop)
    monitor = monitor or RecordingMonitor(mocks or GraphMocks())
    result = RenderResult(stack=stack)

    def repeated_failure(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # A failed render is reported once, in ``result.error``; the SDK leaves other futures holding the same
        # failure, and their "exception was never retrieved" messages (at garbage collection) only repeat it.
        if result.error is not None and "never retrieved" in str(context.get("message", "")):
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(repeated_failure)
    try:
        _sdk.start_mocks(
            mocks=monitor.mocks, monitor=monitor, project=PROJECT, stack=stack, preview=preview, config=config
        )
        try:
            _sdk.run_program(program=program)
            result.outputs = _stack_outputs()
        except Exception as err:
            result.error = err
    finally:
        _sdk.stop_mocks()
        asyncio.set_event_loop(None)
        loop.close()
    result.resources = list(monitor.registered)
    return result


def _stack_outputs() -> dict[str, Any]:
    """The values of ``pulumi.export`` calls (secret ones redacted)."""
    values: dict[str, Any] = {}
    for name, value in _sdk.stack_exports().items():
        output = pulumi.Output.from_input(value)
        secret = _sdk.sync_await(awaitable=output.is_secret())
        values[name] = REDACTED if secret else _sdk.sync_await(awaitable=output.future())
    return values

"""Render a tenant stack's resource graph under Pulumi mocks: no CLI, no cluster, no BTP, no credentials.

Used by ``btp-infra plan`` and the tests. Each render gets a fresh event loop and fresh runtime settings, so
renders are independent. Dynamic BTP resources get representative computed outputs (ids, and binding
credentials of the documented shape with placeholder values) so that the operator Secret is rendered by the
production mapping code, exactly as ``pulumi up`` would build it.
"""

from __future__ import annotations

import asyncio
import pickle
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

PROJECT = "btp-infra"
PROVIDER_KEY = "__provider"
SECRET_SIG = rpc._special_sig_key  # "4dabf18193072939515e22adb298388d"
SECRET_VALUE = rpc._special_secret_sig  # marks a secret envelope
PLACEHOLDER_SECRET = "(computed secret)"

#: ``pulumi.dynamic``'s ``serialize_provider`` wraps ``pickle._Pickler._batch_setitems`` on every call and
#: never restores it, so the wrapper chain grows by one per dynamic resource: after ~1000 of them in one
#: process (about 175 tenant stacks) pickling a provider raises RecursionError. Each render starts afresh.
_PICKLER_BATCH_SETITEMS = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]


def is_secret_envelope(value: Any) -> bool:
    """True for the wire form of a secret value."""
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_VALUE


def unwrap_secrets(value: Any) -> Any:
    """The value with every secret envelope replaced by its plain content (what policies see)."""
    if is_secret_envelope(value):
        return unwrap_secrets(value.get("value"))
    if isinstance(value, dict):
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def redact_secrets(value: Any, placeholder: str = "[secret]") -> Any:
    """The value with every secret envelope replaced by ``placeholder`` (what people see)."""
    if is_secret_envelope(value):
        return placeholder
    if isinstance(value, dict):
        return {k: redact_secrets(v, placeholder) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_secrets(v, placeholder) for v in value]
    return value


@dataclass
class RenderedResource:
    """One registered resource: what the engine would receive, plus the options policies look at."""

    urn: str
    type: str
    name: str
    custom: bool
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    parent: str | None
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    protect: bool
    provider: str
    additional_secret_outputs: list[str]
    delete_before_replace: bool
    custom_timeouts: dict[str, str]

    @property
    def plain_inputs(self) -> dict[str, Any]:
        """Inputs with secrets unwrapped and ``__provider`` dropped (the analyzer's view)."""
        return {k: unwrap_secrets(v) for k, v in self.inputs.items() if k != PROVIDER_KEY}

    @property
    def redacted_inputs(self) -> dict[str, Any]:
        """Inputs with secrets redacted and ``__provider`` dropped (safe to print)."""
        return {k: redact_secrets(v) for k, v in self.inputs.items() if k != PROVIDER_KEY}


@dataclass
class RenderResult:
    """The rendered graph of one stack, or the error that stopped it (nothing registered then)."""

    stack: str
    resources: list[RenderedResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    error: BaseException | None = None

    def of_type(self, type_token: str) -> list[RenderedResource]:
        """The resources with this type token, in registration order."""
        return [r for r in self.resources if r.type == type_token]

    def by_urn(self) -> dict[str, RenderedResource]:
        """Resources keyed by URN."""
        return {r.urn: r for r in self.resources}


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
            ctype = str(unwrap_secrets(state.get("credentialType")) or "client-secret")
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
            inputs=rpc.deserialize_properties(request.object),
            outputs=self.resources[response.urn].state,
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
) -> RenderResult:
    """Run ``program`` for ``stack`` with ``config`` (engine form: ``btp-infra:key`` → string) under mocks
    (``mocks``, or a ``monitor`` built around its own mocks)."""
    pickle._Pickler._batch_setitems = _PICKLER_BATCH_SETITEMS  # type: ignore[attr-defined]
    loop = asyncio.new_event_loop()
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
        settings.reset_options(project=PROJECT, stack=stack, preview=preview)
        set_all_config(dict(config))
        pulumi.runtime.set_mocks(
            monitor.mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor
        )
        settings.SETTINGS.rpc_manager.clear()
        settings.SETTINGS.outputs.clear()
        try:
            _sync_await(run_pulumi_func(program))
            result.outputs = _stack_outputs()
        except Exception as err:
            result.error = err
    finally:
        set_all_config({})
        settings.reset_options()
        asyncio.set_event_loop(None)
        loop.close()
    result.resources = list(monitor.registered)
    return result


def _stack_outputs() -> dict[str, Any]:
    """The values of ``pulumi.export`` calls (secret ones redacted)."""
    root = settings.get_root_resource()
    exported: dict[str, Any] = getattr(root, "outputs", {}) or {}
    values: dict[str, Any] = {}
    for name, value in exported.items():
        output = pulumi.Output.from_input(value)
        values[name] = "[secret]" if _sync_await(output.is_secret()) else _sync_await(output.future())
    return values

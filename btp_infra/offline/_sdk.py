"""Every use of private Pulumi and pulumi-policy SDK internals by btp-infra, in one place.

The SDKs are pinned (``pulumi-policy>=1.21,<1.22``; ``pulumi`` as in ``pyproject.toml``); an upgrade checks
this module and nothing else. Every shim is called by keyword, so a call site reads as what it relies on.

- the mocks runtime: resetting the settings, installing mocks and a monitor, running a program to
  completion, the root resource's exports, a mock monitor's recorded state;
- the wire format: ``rpc.deserialize_properties``;
- ``pickle._Pickler._batch_setitems``, which ``pulumi.dynamic`` wraps on every provider it serialises and
  never restores (:func:`restore_pickler`);
- the stack-trace capture of every registration, which nothing under mocks reads (:func:`stack_traces_off`);
- the policy SDK's in-process analyzer servicer (:func:`policy_servicer`), and its conversion of the same
  request to Python values once per policy (:func:`converting_once`);
- the SDK's habit of sending every mock-monitor call through the event loop's thread pool
  (:func:`calls_inline`).
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import pulumi
import pulumi_policy.policy as policy_sdk
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as runtime_resource
from pulumi.runtime import rpc, settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await
from pulumi_policy import EnforcementLevel, Policy
from pulumi_policy.deserialize import deserialize_properties as _DESERIALIZE_PROPERTIES
from pulumi_policy.policy import _PolicyAnalyzerServicer

T = TypeVar("T")

#: ``pulumi.dynamic``'s ``serialize_provider`` wraps ``pickle._Pickler._batch_setitems`` on every call and
#: never restores it, so the wrapper chain grows by one per dynamic resource: after ~1000 of them in one
#: process (about 175 tenant stacks) pickling a provider raises RecursionError.
_PICKLER_BATCH_SETITEMS = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]
_GET_STACK_TRACE = runtime_resource._get_stack_trace


def restore_pickler() -> None:
    """Undo every wrapper ``pulumi.dynamic`` left on the pickler (call before a render)."""
    pickle._Pickler._batch_setitems = _PICKLER_BATCH_SETITEMS  # type: ignore[attr-defined]


def start_mocks(
    *,
    mocks: pulumi_mocks.Mocks,
    monitor: pulumi_mocks.MockMonitor,
    project: str,
    stack: str,
    preview: bool,
    config: Mapping[str, str],
) -> None:
    """Fresh runtime settings for one program run under ``mocks`` behind ``monitor`` with ``config``."""
    settings.reset_options(project=project, stack=stack, preview=preview)
    set_all_config(dict(config))
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview, monitor=monitor)
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()


def stop_mocks() -> None:
    """Forget the config and the settings of the last run."""
    set_all_config({})
    settings.reset_options()


def run_program(*, program: Callable[[], Any]) -> None:
    """Run ``program`` as the stack's body and wait for every registration and output (raises its error)."""
    _sync_await(run_pulumi_func(program))


def sync_await(*, awaitable: Awaitable[T]) -> T:
    """The result of ``awaitable`` on the runtime's current event loop."""
    result: T = _sync_await(awaitable)
    return result


def stack_exports() -> dict[str, Any]:
    """The values passed to ``pulumi.export`` in the last run (the root stack resource's outputs)."""
    root = settings.get_root_resource()
    exported: dict[str, Any] = getattr(root, "outputs", {}) or {}
    return dict(exported)


def mock_state(*, monitor: pulumi_mocks.MockMonitor, urn: str) -> dict[str, Any]:
    """The state a mock monitor recorded for ``urn`` (what the mocks' ``new_resource`` returned)."""
    state: dict[str, Any] = monitor.resources[urn].state
    return state


def deserialize_properties(*, struct: Any) -> dict[str, Any]:
    """A registration's ``object`` (a protobuf ``Struct``) as Python values, secret envelopes kept."""
    values: dict[str, Any] = rpc.deserialize_properties(struct)
    return values


def _no_stack_trace() -> source_pb2.StackTrace:
    return source_pb2.StackTrace()


@contextlib.contextmanager
def stack_traces_off() -> Iterator[None]:
    """Registrations carry an empty stack trace while inside (the SDK walks and formats the whole Python
    stack for each one; the mock monitor drops it). Not for threads that render concurrently."""
    runtime_resource._get_stack_trace = _no_stack_trace
    try:
        yield
    finally:
        runtime_resource._get_stack_trace = _GET_STACK_TRACE


def policy_servicer(
    *, name: str, version: str, policies: Sequence[Policy], enforcement_level: EnforcementLevel
) -> Any:
    """The servicer ``PolicyPack(...)`` serves over gRPC (untyped private API, hence ``Any``), in-process."""
    return _PolicyAnalyzerServicer(name, version, list(policies), enforcement_level)


class _InlineExecutor(ThreadPoolExecutor):
    """Runs each submitted call at once, in the caller's thread (a ``ThreadPoolExecutor`` only because
    asyncio accepts no other default executor; it never starts a thread)."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as err:  # handed to the awaiting coroutine, as a pool thread would
            future.set_exception(err)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        return None


def calls_inline(*, loop: asyncio.AbstractEventLoop) -> None:
    """Run the SDK's monitor calls (``run_in_executor(None, monitor.RegisterResource, ...)``) on ``loop``'s
    own thread. Only for monitors that answer at once, as mocks do: it saves a thread hand-off per call
    and the pool's threads per render; registrations still complete in the SDK's order of awaiting."""
    loop.set_default_executor(_InlineExecutor())


class _ConvertOnce:
    """The policy servicer's conversions of a request to Python values, each done once per request.

    ``MessageToDict`` is remembered per message object and ``deserialize_properties`` per converted dict.
    Sharing them between policies changes nothing: the servicer only reads them, and the unknown-checking
    proxy each policy gets is built afresh from them (new containers, per policy).
    """

    def __init__(self) -> None:
        self._dicts: dict[int, tuple[Any, dict[str, Any]]] = {}
        self._values: dict[tuple[int, bool], tuple[Any, dict[str, Any]]] = {}

    def MessageToDict(self, message: Any, **options: Any) -> dict[str, Any]:
        if options:
            return _as_dict(json_format.MessageToDict(message, **options))
        seen = self._dicts.get(id(message))
        if seen is not None and seen[0] is message:  # the message is held: its id is not reused meanwhile
            return seen[1]
        value = _as_dict(json_format.MessageToDict(message))
        self._dicts[id(message)] = (message, value)
        return value

    def __getattr__(self, name: str) -> Any:
        return getattr(json_format, name)

    def deserialize_properties(self, props: dict[str, Any], proxy_secrets: bool = False) -> dict[str, Any]:
        key = (id(props), proxy_secrets)
        seen = self._values.get(key)
        if seen is not None and seen[0] is props:
            return seen[1]
        value = _as_dict(_DESERIALIZE_PROPERTIES(props, proxy_secrets))
        self._values[key] = (props, value)
        return value


def _as_dict(value: Any) -> dict[str, Any]:
    result: dict[str, Any] = value
    return result


_CONVERSION_LOCK = threading.Lock()


@contextlib.contextmanager
def converting_once() -> Iterator[None]:
    """While inside, the servicer converts each request's properties to Python values once, not once per
    policy (it re-parses the same ``Struct`` for every policy and resource; see :class:`_ConvertOnce`).
    One analysis at a time (the servicer's module is patched)."""
    with _CONVERSION_LOCK:
        once = _ConvertOnce()
        setattr(policy_sdk, "json_format", once)  # noqa: B010 (a module the SDK does not export)
        setattr(policy_sdk, "deserialize_properties", once.deserialize_properties)  # noqa: B010
        try:
            yield
        finally:
            setattr(policy_sdk, "json_format", json_format)  # noqa: B010
            setattr(policy_sdk, "deserialize_properties", _DESERIALIZE_PROPERTIES)  # noqa: B010

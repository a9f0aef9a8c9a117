"""``KubeApiStandIn``: a stand-in Kubernetes API for tests — the few endpoints btp-infra uses, not a cluster.

Real HTTP on 127.0.0.1 (a free port, uvicorn + starlette in a background thread, like the BTP emulator's
``SandboxServer``), so the official ``kubernetes`` client runs unchanged against it. What it serves:

- core ``/api/v1``: namespaces (cluster-scoped), secrets, pods, resourcequotas, limitranges, serviceaccounts,
  configmaps;
- ``/apis/{group}/{version}``: ``networking.k8s.io/v1`` networkpolicies, ``security.istio.io/v1`` and
  ``v1beta1`` peerauthentications (one storage, as the versions of one CRD), ``services.cloud.sap.com/v1``
  serviceinstances and servicebindings;
- GET one, LIST (one namespace or all; ``labelSelector`` with ``=``, ``==``, ``!=``, ``in``, ``notin``,
  ``key``, ``!key``; ``fieldSelector`` ``metadata.name`` / ``metadata.namespace``), POST (409
  ``AlreadyExists``; 404 in a missing namespace, 403 in a terminating one), PUT (409 ``Conflict`` on a stale
  ``resourceVersion``), PATCH (merge and strategic-merge as RFC 7386 merge; json-patch ``add``/``remove``/
  ``replace``/``test``), DELETE;
- what kube-apiserver sets: ``uid``, ``resourceVersion`` (one counter), ``creationTimestamp``, ``generation``
  (objects with a ``spec``), Secret ``stringData`` folded into ``data``, ``kind: Status`` error bodies;
- ``dryRun=All`` on a write: evaluated in full, nothing persisted;
- finalizers: a deleted object with finalizers gets a ``deletionTimestamp`` and stays until they are removed;
  a deleted namespace is ``Terminating`` while content remains (its content is deleted the same way).

Test hooks: a request log (method, path, query, body — Secret values redacted — and the answer's status),
``seed``/``get``/``objects`` to stage and read objects directly, fault injection (the next N requests matching
a method and a path pattern answer with a status), a bearer token (``kubeconfig()`` returns a kubeconfig
pointing here), and ``operator``: a stand-in of the SAP BTP service operator that tests drive —
``reconcile()`` removes the finalizers of deleted ``ServiceInstance``/``ServiceBinding`` objects (after N
calls, or never).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import fnmatch
import json
import re
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import uvicorn
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from btp_infra.conventions import (
    OPERATOR_API_GROUP,
    OPERATOR_API_VERSION,
    OPERATOR_BINDING_PLURAL,
    OPERATOR_FINALIZER,
    OPERATOR_INSTANCE_PLURAL,
)

__all__ = [
    "REDACTED",
    "KubeApiStandIn",
    "KubeRequest",
    "StandInOperator",
]

HOST = "127.0.0.1"
REDACTED = "<redacted>"
_START_TIMEOUT = 10.0


@dataclass(frozen=True)
class _Kind:
    kind: str
    namespaced: bool = True


#: (group, resource) → kind; the core group is "". Versions served per group below.
_KINDS: dict[tuple[str, str], _Kind] = {
    ("", "namespaces"): _Kind("Namespace", namespaced=False),
    ("", "secrets"): _Kind("Secret"),
    ("", "pods"): _Kind("Pod"),
    ("", "resourcequotas"): _Kind("ResourceQuota"),
    ("", "limitranges"): _Kind("LimitRange"),
    ("", "serviceaccounts"): _Kind("ServiceAccount"),
    ("", "configmaps"): _Kind("ConfigMap"),
    ("networking.k8s.io", "networkpolicies"): _Kind("NetworkPolicy"),
    ("security.istio.io", "peerauthentications"): _Kind("PeerAuthentication"),
    (OPERATOR_API_GROUP, OPERATOR_INSTANCE_PLURAL): _Kind("ServiceInstance"),
    (OPERATOR_API_GROUP, OPERATOR_BINDING_PLURAL): _Kind("ServiceBinding"),
}
_VERSIONS: dict[str, tuple[str, ...]] = {
    "": ("v1",),
    "networking.k8s.io": ("v1",),
    "security.istio.io": ("v1", "v1beta1"),
    OPERATOR_API_GROUP: (OPERATOR_API_VERSION,),
}
_BUILTIN_GROUPS = frozenset({"", "networking.k8s.io"})
_OPERATOR_RESOURCES = frozenset({OPERATOR_INSTANCE_PLURAL, OPERATOR_BINDING_PLURAL})


def _api_version(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}


def _status_body(
    code: int, reason: str, message: str, details: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A ``kind: Status`` failure as kube-apiserver writes it (``metav1.Status``)."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = dict(details)
    return body


# ---- request log ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KubeRequest:
    """One request as the stand-in saw it: Secret values in ``body`` are :data:`REDACTED`."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int
    content_type: str = ""

    @property
    def resource(self) -> str:
        """The resource of the path (``secrets``, ``namespaces``, ``serviceinstances``, ...)."""
        parsed = _parse_path(self.path)
        return parsed[2] if parsed else ""

    @property
    def name(self) -> str | None:
        parsed = _parse_path(self.path)
        return parsed[4] if parsed else None

    @property
    def is_write(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH", "DELETE")


def _redact_secret(body: Any) -> Any:
    """A Secret (or a patch of one) with every value under ``data``/``stringData`` replaced."""
    if isinstance(body, list):  # json-patch: the value of an op on the whole object, data or one key
        out = []
        for op in body:
            op = dict(op) if isinstance(op, Mapping) else op
            if isinstance(op, dict) and "value" in op:
                path, value = str(op.get("path", "")), op["value"]
                if path in ("/data", "/stringData") and isinstance(value, Mapping):
                    op["value"] = {k: (None if v is None else REDACTED) for k, v in value.items()}
                elif path.startswith(("/data", "/stringData")):
                    op["value"] = REDACTED
                elif path in ("", "/"):
                    op["value"] = _redact_secret(value) if isinstance(value, Mapping) else REDACTED
            out.append(op)
        return out
    if not isinstance(body, Mapping):
        return body
    red = dict(body)
    for key in ("data", "stringData"):
        if isinstance(red.get(key), Mapping):
            red[key] = {k: (None if v is None else REDACTED) for k, v in red[key].items()}
    if "items" in red and isinstance(red["items"], list):
        red["items"] = [_redact_secret(i) for i in red["items"]]
    return red


# ---- selectors -----------------------------------------------------------------------------------------

_SET_RE = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split_requirements(selector: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


Requirement = tuple[str, str, frozenset[str]]  # (key, operator, values)
LabelTest = Callable[[Mapping[str, str]], bool]
ObjectTest = Callable[[Mapping[str, Any]], bool]


def _parse_label_selector(selector: str) -> list[Requirement]:
    """Requirements of a ``labelSelector`` (k8s.io/apimachinery ``labels.Parse`` grammar, common forms)."""
    parsed: list[Requirement] = []
    for req in _split_requirements(selector):
        if m := _SET_RE.match(req):
            values = frozenset(v.strip() for v in m.group(3).split(",") if v.strip())
            parsed.append((m.group(1), m.group(2), values))
        elif "!=" in req:
            key, _, value = req.partition("!=")
            parsed.append((key.strip(), "!=", frozenset({value.strip()})))
        elif "=" in req:
            key, _, value = req.replace("==", "=", 1).partition("=")
            parsed.append((key.strip(), "=", frozenset({value.strip()})))
        elif req.startswith("!") and re.fullmatch(r"[A-Za-z0-9._/-]+", req[1:].strip()):
            parsed.append((req[1:].strip(), "!", frozenset()))
        elif re.fullmatch(r"[A-Za-z0-9._/-]+", req):
            parsed.append((req, "exists", frozenset()))
        else:
            raise _ApiError(400, "BadRequest", f"unable to parse requirement: {req!r}")
    return parsed


def _satisfies(labels: Mapping[str, str], requirement: Requirement) -> bool:
    key, op, values = requirement
    if op in ("=", "in"):
        return labels.get(key) in values
    if op in ("!=", "notin"):
        return labels.get(key) not in values
    if op == "!":
        return key not in labels
    return key in labels


def _label_matcher(selector: str | None) -> LabelTest:
    requirements = _parse_label_selector(selector) if selector else []
    return lambda labels: all(_satisfies(labels, r) for r in requirements)


_FIELDS = ("metadata.name", "metadata.namespace")


def _field_matcher(selector: str | None) -> ObjectTest:
    """``fieldSelector`` over ``metadata.name`` and ``metadata.namespace`` (``=``, ``==``, ``!=``)."""
    requirements: list[tuple[str, bool, str]] = []
    for req in _split_requirements(selector or ""):
        negate = "!=" in req
        key, _, value = req.replace("!=", "=", 1).replace("==", "=", 1).partition("=")
        key, value = key.strip(), value.strip()
        if key not in _FIELDS:
            raise _ApiError(400, "BadRequest", f'field label not supported: "{key}"')
        requirements.append((key.split(".", 1)[1], negate, value))

    def test(obj: Mapping[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        return all((str(meta.get(attr, "")) == value) != negate for attr, negate, value in requirements)

    return test


# ---- patches -------------------------------------------------------------------------------------------


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (``null`` removes a key)."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _ApiError(422, "Invalid", f"the json-patch path {path!r} does not start with '/'")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902 ``add``, ``remove``, ``replace`` and ``test``."""
    if not isinstance(ops, list):
        raise _ApiError(
            400, "BadRequest", "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
        )
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, Mapping) or "op" not in op or "path" not in op:
            raise _ApiError(422, "Invalid", "a json-patch operation needs 'op' and 'path'")
        parts = _pointer(str(op["path"]))
        if not parts:
            raise _ApiError(422, "Invalid", "the json-patch path must name a member")
        parent: Any = doc
        for part in parts[:-1]:
            if isinstance(parent, list) and part.isdigit() and int(part) < len(parent):
                parent = parent[int(part)]
            elif isinstance(parent, dict) and part in parent:
                parent = parent[part]
            else:
                raise _ApiError(422, "Invalid", f"the json-patch path {op['path']!r} does not exist")
        last, kind = parts[-1], op["op"]
        if kind == "test":
            current = parent.get(last) if isinstance(parent, dict) else None
            if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
                current = parent[int(last)]
            if current != op.get("value"):
                raise _ApiError(422, "Invalid", f"the json-patch test of {op['path']!r} failed")
        elif kind in ("add", "replace"):
            if isinstance(parent, list):
                index = len(parent) if last == "-" else int(last) if last.isdigit() else -1
                if not 0 <= index <= len(parent) or (kind == "replace" and index == len(parent)):
                    raise _ApiError(422, "Invalid", f"the json-patch index of {op['path']!r} is out of range")
                if kind == "add":
                    parent.insert(index, copy.deepcopy(op.get("value")))
                else:
                    parent[index] = copy.deepcopy(op.get("value"))
            elif isinstance(parent, dict):
                if kind == "replace" and last not in parent:
                    raise _ApiError(422, "Invalid", f"the json-patch path {op['path']!r} does not exist")
                parent[last] = copy.deepcopy(op.get("value"))
            else:
                raise _ApiError(422, "Invalid", f"the json-patch path {op['path']!r} does not exist")
        elif kind == "remove":
            if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
                parent.pop(int(last))
            elif isinstance(parent, dict) and last in parent:
                del parent[last]
            else:
                raise _ApiError(422, "Invalid", f"the json-patch path {op['path']!r} does not exist")
        else:
            raise _ApiError(422, "Invalid", f"json-patch operation {kind!r} is not supported by the stand-in")
    return doc


# ---- paths ---------------------------------------------------------------------------------------------


def _parse_path(path: str) -> tuple[str, str, str, str | None, str | None] | None:
    """(group, version, resource, namespace, name) of an API path, None when it is not one."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if not rest:
        return None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, resource, name = rest[1], rest[2], rest[3] if len(rest) > 3 else None
        if len(rest) > 4:
            return None
        return group, version, resource, namespace, name
    if len(rest) > 2:
        return None
    return group, version, rest[0], None, rest[1] if len(rest) > 1 else None


# ---- the store -----------------------------------------------------------------------------------------

Key = tuple[str, str, str, str]  # (group, resource, namespace or "", name)


@dataclass
class _Fault:
    method: str
    path: str
    status: int
    count: int
    reason: str
    message: str


class StandInOperator:
    """The SAP BTP service operator, as far as finalizers go: tests call :meth:`reconcile`.

    ``finalize_after`` — deleted objects lose their finalizer from that many ``reconcile()`` calls on
    (counting from the last ``reset``); ``stuck`` — never. ``auto`` — reconcile after every API request (so a
    client that deletes and polls sees the objects go without the test's help). ``mark_ready`` — reconcile
    also sets ``Ready=True`` on live objects without a Ready condition.
    """

    def __init__(self, server: KubeApiStandIn) -> None:
        self._server = server
        self.finalize_after = 1
        self.stuck = False
        self.auto = False
        self.mark_ready = False
        self.calls = 0

    def reset(self) -> None:
        self.finalize_after, self.stuck, self.auto, self.mark_ready, self.calls = 1, False, False, False, 0

    def reconcile(self) -> list[str]:
        """One reconcile pass; returns ``namespace/name`` of the objects whose finalizer was removed."""
        with self._server.lock:
            self.calls += 1
            done: list[str] = []
            for key, obj in list(self._server.store.items()):
                if key[0] != OPERATOR_API_GROUP or key[1] not in _OPERATOR_RESOURCES:
                    continue
                meta = obj["metadata"]
                if meta.get("deletionTimestamp"):
                    if self.stuck or self.calls < self.finalize_after:
                        continue
                    meta["finalizers"] = [f for f in meta.get("finalizers", []) if f != OPERATOR_FINALIZER]
                    self._server._touch(obj)
                    self._server._settle(key)
                    done.append(f"{key[2]}/{key[3]}")
                elif self.mark_ready:
                    conditions = obj.setdefault("status", {}).setdefault("conditions", [])
                    if not any(c.get("type") == "Ready" for c in conditions):
                        conditions.append({"type": "Ready", "status": "True", "reason": "Provisioned"})
                        self._server._touch(obj)
            return done


class KubeApiStandIn:
    """The stand-in Kubernetes API on 127.0.0.1 (port 0: a free one); a context manager or start()/stop()."""

    def __init__(self, port: int = 0, token: str | None = None) -> None:
        self.port_requested = port
        self.token = token or f"stand-in-{secrets.token_urlsafe(16)}"
        self.lock = threading.RLock()
        self.store: dict[Key, dict[str, Any]] = {}
        self.log: list[KubeRequest] = []
        self.faults: list[_Fault] = []
        self.operator = StandInOperator(self)
        self._rv = 0
        self._server: uvicorn.Server | None = None
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._app = Starlette(
            routes=[
                Route("/version", self._version, methods=["GET"]),
                Route("/{path:path}", self._dispatch, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            ]
        )

    # -- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> KubeApiStandIn:
        if self._thread is not None:
            raise RuntimeError("the stand-in Kubernetes API is already running")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, self.port_requested))
        self._sock = sock
        config = uvicorn.Config(
            self._app,
            ws="none",
            lifespan="off",
            log_config=None,
            log_level="error",
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._error = None
        self._thread = threading.Thread(target=self._run, name=f"kube-standin-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                error = self._error
                self.stop()
                raise RuntimeError("the stand-in Kubernetes API did not start") from error
            time.sleep(0.005)
        return self

    def _run(self) -> None:
        assert self._server is not None and self._sock is not None
        server, sock = self._server, self._sock
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # reported by start()
            self._error = exc

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout=5)
        if self._sock is not None:
            self._sock.close()
        self._server, self._sock, self._thread = None, None, None

    def __enter__(self) -> KubeApiStandIn:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._sock is None:
            raise RuntimeError("the stand-in Kubernetes API is not running")
        return int(self._sock.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def kubeconfig(self, context: str = "stand-in", namespace: str | None = None) -> str:
        """A kubeconfig (YAML text, bearer-token user) with one context, ``context``, current, to here."""
        ctx: dict[str, Any] = {"cluster": context, "user": f"{context}-user"}
        if namespace:
            ctx["namespace"] = namespace
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": f"{context}-user", "user": {"token": self.token}}],
            "contexts": [{"name": context, "context": ctx}],
            "current-context": context,
            "preferences": {},
        }
        return yaml.safe_dump(config, sort_keys=False)

    def reset(self) -> None:
        """Empty store, log and faults; the operator back to its defaults."""
        with self.lock:
            self.store.clear()
            self.log.clear()
            self.faults.clear()
            self.operator.reset()

    # -- test helpers ---------------------------------------------------------------------------------------

    def requests(
        self, method: str | None = None, resource: str | None = None, *, writes: bool = False
    ) -> list[KubeRequest]:
        """The request log (oldest first), optionally by method, resource, or writes only."""
        with self.lock:
            entries = list(self.log)
        return [
            r
            for r in entries
            if (method is None or r.method == method.upper())
            and (resource is None or r.resource == resource)
            and (not writes or r.is_write)
        ]

    def clear_log(self) -> None:
        with self.lock:
            self.log.clear()

    def fail(
        self,
        method: str,
        path: str,
        status: int = 500,
        *,
        count: int = 1,
        reason: str | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next ``count`` requests matching ``method`` (``*`` = any) and ``path`` (an ``fnmatch``
        pattern, e.g. ``/api/v1/namespaces/*/secrets/*``) with a Status of ``status``."""
        default_reason = {
            400: "BadRequest",
            401: "Unauthorized",
            403: "Forbidden",
            404: "NotFound",
            409: "Conflict",
            422: "Invalid",
            429: "TooManyRequests",
            500: "InternalError",
            503: "ServiceUnavailable",
            504: "Timeout",
        }.get(status, "InternalError")
        with self.lock:
            self.faults.append(
                _Fault(
                    method.upper(),
                    path,
                    status,
                    count,
                    reason or default_reason,
                    message or f"injected fault ({status})",
                )
            )

    def seed(self, obj: Mapping[str, Any], *, resource: str | None = None) -> dict[str, Any]:
        """Put an object straight into the store (no log entry, no admission). Server fields are filled when
        missing (a given ``creationTimestamp`` stays); the resource is derived from ``kind`` unless given."""
        body = copy.deepcopy(dict(obj))
        group, _, _ = str(body.get("apiVersion", "v1")).rpartition("/")
        if resource is None:
            matches = [r for (g, r), k in _KINDS.items() if g == group and k.kind == body.get("kind")]
            if not matches:
                raise ValueError(
                    f"the stand-in does not serve kind {body.get('kind')!r} of {group or 'core'}"
                )
            resource = matches[0]
        kind = _KINDS[(group, resource)]
        meta = body.setdefault("metadata", {})
        namespace = str(meta.get("namespace", "")) if kind.namespaced else ""
        with self.lock:
            self._prepare_new(body, group, resource, namespace)
            if resource == "secrets":
                self._fold_string_data(body)
            self.store[(group, resource, namespace, str(meta["name"]))] = body
            return copy.deepcopy(body)

    def get(
        self, resource: str, name: str, namespace: str | None = None, group: str = ""
    ) -> dict[str, Any] | None:
        """A stored object (a copy), None when absent."""
        with self.lock:
            obj = self.store.get((group, resource, namespace or "", name))
            return copy.deepcopy(obj) if obj is not None else None

    def objects(self, resource: str, namespace: str | None = None, group: str = "") -> list[dict[str, Any]]:
        """Stored objects of a resource (copies), in one namespace or all."""
        with self.lock:
            return [
                copy.deepcopy(o)
                for (g, r, ns, _), o in sorted(self.store.items())
                if g == group and r == resource and (namespace is None or ns == namespace)
            ]

    def secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        """A stored Secret's ``data`` decoded (for assertions), None when absent."""
        obj = self.get("secrets", name, namespace)
        if obj is None:
            return None
        return {k: base64.b64decode(v).decode("utf-8") for k, v in (obj.get("data") or {}).items()}

    # -- store mechanics ------------------------------------------------------------------------------------

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _touch(self, obj: dict[str, Any]) -> None:
        obj["metadata"]["resourceVersion"] = self._next_rv()

    def _prepare_new(self, body: dict[str, Any], group: str, resource: str, namespace: str) -> None:
        kind = _KINDS[(group, resource)]
        meta = body.setdefault("metadata", {})
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = f"{meta['generateName']}{secrets.token_hex(3)[:5]}"
            else:
                raise _ApiError(422, "Invalid", f"{kind.kind} is invalid: metadata.name: Required value")
        if kind.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", _now())
        meta["resourceVersion"] = self._next_rv()
        if "spec" in body:
            meta.setdefault("generation", 1)
        body.setdefault("kind", kind.kind)
        if resource == "namespaces":
            body.setdefault("spec", {"finalizers": ["kubernetes"]})
            body.setdefault("status", {"phase": "Active"})
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        if resource == "secrets":
            body.setdefault("type", "Opaque")

    @staticmethod
    def _fold_string_data(body: dict[str, Any]) -> None:
        """``stringData`` is write-only: merged into ``data`` (base64) as the API server does; ``data``
        must be base64."""
        string_data = body.pop("stringData", None) or {}
        data = body.get("data") or {}
        for key, value in data.items():
            try:
                base64.b64decode(str(value), validate=True)
            except binascii.Error:
                raise _ApiError(
                    422, "Invalid", f"Secret is invalid: data[{key}]: Invalid value: illegal base64 data"
                ) from None
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode("utf-8")).decode("ascii")
        if data:
            body["data"] = data

    def _settle(self, key: Key) -> None:
        """Remove a deleted object whose finalizers are all gone; finish a terminating namespace."""
        obj = self.store.get(key)
        if obj is None:
            return
        meta = obj["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            is_namespace = key[1] == "namespaces" and key[0] == ""
            if is_namespace and any(k[2] == key[3] for k in self.store if k[1] != "namespaces"):
                return  # content left: stays Terminating
            del self.store[key]
            if key[2]:
                ns_key: Key = ("", "namespaces", "", key[2])
                namespace = self.store.get(ns_key)
                if namespace is not None and namespace["metadata"].get("deletionTimestamp"):
                    self._settle(ns_key)

    def _delete(self, key: Key) -> dict[str, Any] | None:
        """Delete (or mark deleted); returns the object if it remains (finalizers or content), else None."""
        obj = self.store[key]
        meta = obj["metadata"]
        if not meta.get("deletionTimestamp"):
            meta["deletionTimestamp"] = _now()
            meta["deletionGracePeriodSeconds"] = 0
            self._touch(obj)
        if key[0] == "" and key[1] == "namespaces":
            obj.setdefault("status", {})["phase"] = "Terminating"
            for content in [k for k in self.store if k[2] == key[3] and k[1] != "namespaces"]:
                if content in self.store:
                    self._delete(content)
            obj.get("spec", {}).pop("finalizers", None)
            meta.pop("finalizers", None)
        self._settle(key)
        return self.store.get(key)

    # -- HTTP -----------------------------------------------------------------------------------------------

    async def _version(self, request: Request) -> Response:
        return JSONResponse(
            {"major": "1", "minor": "31", "gitVersion": "v1.31.0-stand-in", "platform": "linux/amd64"}
        )

    async def _dispatch(self, request: Request) -> Response:
        raw = await request.body()
        path = "/" + request.path_params["path"]
        query = dict(request.query_params)
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        parsed = _parse_path(path)
        logged_body = _redact_secret(body) if parsed and parsed[2] == "secrets" else body
        status, payload = self._handle(request.method, path, query, body, bool(raw), content_type, request)
        with self.lock:
            self.log.append(KubeRequest(request.method, path, query, logged_body, status, content_type))
        if self.operator.auto:
            self.operator.reconcile()
        return JSONResponse(payload, status_code=status)

    def _handle(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
        had_body: bool,
        content_type: str,
        request: Request,
    ) -> tuple[int, Any]:
        if request.headers.get("authorization", "") != f"Bearer {self.token}":
            return 401, _status_body(401, "Unauthorized", "Unauthorized")
        with self.lock:
            for fault in self.faults:
                if (
                    fault.count > 0
                    and fault.method in ("*", method)
                    and fnmatch.fnmatchcase(path, fault.path)
                ):
                    fault.count -= 1
                    return fault.status, _status_body(fault.status, fault.reason, fault.message)
            try:
                if method != "GET" and query.get("dryRun") == "All":
                    # dry run: the whole request is evaluated (admission, conflicts), nothing is persisted
                    saved, rv = copy.deepcopy(self.store), self._rv
                    try:
                        return self._route(method, path, query, body, had_body, content_type)
                    finally:
                        self.store, self._rv = saved, rv
                return self._route(method, path, query, body, had_body, content_type)
            except _ApiError as err:
                return err.code, _status_body(err.code, err.reason, err.message, err.details)

    def _route(
        self, method: str, path: str, query: dict[str, str], body: Any, had_body: bool, content_type: str
    ) -> tuple[int, Any]:
        parsed = _parse_path(path)
        if parsed is None:
            raise _ApiError(404, "NotFound", "the server could not find the requested resource")
        group, version, resource, namespace, name = parsed
        kind = _KINDS.get((group, resource))
        if kind is None or version not in _VERSIONS.get(group, ()):
            raise _ApiError(404, "NotFound", "the server could not find the requested resource")
        if not kind.namespaced and namespace is not None:
            raise _ApiError(404, "NotFound", "the server could not find the requested resource")
        api_version = _api_version(group, version)
        qualified = resource if not group else f"{resource}.{group}"
        ns = namespace or ""
        if had_body and body is None:
            raise _ApiError(400, "BadRequest", "the request body is not valid JSON")
        if method == "GET" and name is None:
            return 200, self._list(group, resource, kind, api_version, namespace, query)
        if method == "GET":
            obj = self.store.get((group, resource, ns, name or ""))
            if obj is None:
                raise self._not_found(qualified, name or "", resource)
            return 200, self._out(obj, api_version)
        if method == "POST" and name is None and (not kind.namespaced or namespace is not None):
            return 201, self._create(group, resource, kind, api_version, ns, body, qualified)
        if name is None:
            raise _ApiError(405, "MethodNotAllowed", f"the server does not allow this method on {qualified}")
        key: Key = (group, resource, ns, name)
        current = self.store.get(key)
        if current is None:
            raise self._not_found(qualified, name, resource)
        if method == "DELETE":
            remaining = self._delete(key)
            if remaining is not None:
                return 200, self._out(remaining, api_version)
            return 200, {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {"name": name, "kind": resource, "uid": current["metadata"]["uid"]},
            }
        if method == "PUT":
            if not isinstance(body, Mapping):
                raise _ApiError(400, "BadRequest", "the request body must be an object")
            new = copy.deepcopy(dict(body))
        elif method == "PATCH":
            if content_type == "application/json-patch+json":
                new = _json_patch(self._out(current, api_version), body)
            elif content_type == "application/strategic-merge-patch+json" and group not in _BUILTIN_GROUPS:
                # custom resources have no strategic-merge schema: kube-apiserver answers 415
                raise _ApiError(
                    415,
                    "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types include: "
                    "application/json-patch+json, application/merge-patch+json",
                )
            elif content_type in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
                if not isinstance(body, Mapping):
                    raise _ApiError(400, "BadRequest", "a merge patch must be an object")
                new = _merge_patch(self._out(current, api_version), body)
            else:
                raise _ApiError(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format: {content_type}",
                )
        else:
            raise _ApiError(405, "MethodNotAllowed", f"the server does not allow this method on {qualified}")
        return 200, self._update(key, current, new, api_version, qualified)

    def _not_found(self, qualified: str, name: str, resource: str) -> _ApiError:
        return _ApiError(404, "NotFound", f'{qualified} "{name}" not found', {"name": name, "kind": resource})

    def _out(self, obj: dict[str, Any], api_version: str) -> dict[str, Any]:
        out = copy.deepcopy(obj)
        out["apiVersion"] = api_version
        return out

    def _list(
        self,
        group: str,
        resource: str,
        kind: _Kind,
        api_version: str,
        namespace: str | None,
        query: dict[str, str],
    ) -> dict[str, Any]:
        if query.get("watch") in ("true", "1"):
            raise _ApiError(405, "MethodNotAllowed", "watch is not served by the stand-in")
        labels = _label_matcher(query.get("labelSelector"))
        fields = _field_matcher(query.get("fieldSelector"))
        items = []
        for (g, r, ns, _), obj in sorted(self.store.items()):
            if g != group or r != resource or (namespace is not None and ns != namespace):
                continue
            if labels(obj["metadata"].get("labels") or {}) and fields(obj):
                item = self._out(obj, api_version)
                if group in _BUILTIN_GROUPS:  # list items of built-in types carry no kind/apiVersion
                    item.pop("kind", None)
                    item.pop("apiVersion", None)
                items.append(item)
        return {
            "kind": f"{kind.kind}List",
            "apiVersion": api_version,
            "metadata": {"resourceVersion": str(self._rv)},
            "items": items,
        }

    def _create(
        self,
        group: str,
        resource: str,
        kind: _Kind,
        api_version: str,
        namespace: str,
        body: Any,
        qualified: str,
    ) -> dict[str, Any]:
        if not isinstance(body, Mapping):
            raise _ApiError(400, "BadRequest", "the request body must be an object")
        new = copy.deepcopy(dict(body))
        meta = new.setdefault("metadata", {})
        if kind.namespaced and meta.get("namespace") not in (None, "", namespace):
            raise _ApiError(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on the request",
            )
        for server_field in (
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "deletionTimestamp",
            "generation",
        ):
            meta.pop(server_field, None)
        if kind.namespaced:
            ns_obj = self.store.get(("", "namespaces", "", namespace))
            if ns_obj is None:
                raise _ApiError(
                    404,
                    "NotFound",
                    f'namespaces "{namespace}" not found',
                    {"name": namespace, "kind": "namespaces"},
                )
            if ns_obj["metadata"].get("deletionTimestamp"):
                raise _ApiError(
                    403,
                    "Forbidden",
                    f'{qualified} "{meta.get("name", "")}" is forbidden: unable to create new content in '
                    f"namespace {namespace} because it is being terminated",
                )
        self._prepare_new(new, group, resource, namespace)
        key: Key = (group, resource, namespace if kind.namespaced else "", str(meta["name"]))
        if key in self.store:
            raise _ApiError(
                409,
                "AlreadyExists",
                f'{qualified} "{meta["name"]}" already exists',
                {"name": meta["name"], "kind": resource},
            )
        if resource == "secrets":
            self._fold_string_data(new)
        new["apiVersion"] = api_version
        self.store[key] = new
        return self._out(new, api_version)

    def _update(
        self, key: Key, current: dict[str, Any], new: dict[str, Any], api_version: str, qualified: str
    ) -> dict[str, Any]:
        meta = new.setdefault("metadata", {})
        old_meta = current["metadata"]
        name = key[3]
        if meta.get("name", name) != name:
            raise _ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
        given_rv = meta.get("resourceVersion")
        if given_rv and str(given_rv) != str(old_meta.get("resourceVersion")):
            raise _ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {qualified} "{name}": the object has been modified; '
                "please apply your changes to the latest version and try again",
                {"name": name, "kind": key[1]},
            )
        meta["name"] = name
        if key[2]:
            meta["namespace"] = key[2]
        for server_field in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if server_field in old_meta:
                meta[server_field] = old_meta[server_field]
            else:
                meta.pop(server_field, None)
        if old_meta.get("deletionTimestamp"):
            added = set(meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
            if added:
                raise _ApiError(
                    422,
                    "Invalid",
                    f'{qualified} "{name}" is invalid: metadata.finalizers: Forbidden: no new '
                    "finalizers can be added if the object is being deleted",
                )
        if key[1] == "secrets":
            self._fold_string_data(new)
        if key[1] == "namespaces":
            new["status"] = copy.deepcopy(current.get("status", {"phase": "Active"}))
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
        spec_changed = {
            k: v for k, v in new.items() if k not in ("metadata", "status", "apiVersion", "kind")
        } != {k: v for k, v in current.items() if k not in ("metadata", "status", "apiVersion", "kind")}
        generation = int(old_meta.get("generation", 0) or 0)
        if generation or "spec" in new:
            meta["generation"] = max(generation, 1) + (1 if spec_changed and generation else 0)
        new["kind"] = current.get("kind")
        meta["resourceVersion"] = self._next_rv()
        self.store[key] = new
        self._settle(key)
        stored = self.store.get(key)
        return self._out(stored if stored is not None else new, api_version)

    def iter_objects(self) -> Iterator[tuple[Key, dict[str, Any]]]:
        """Every stored object (copies) with its key, sorted."""
        with self.lock:
            items = sorted(self.store.items())
        for key, obj in items:
            yield key, copy.deepcopy(obj)

"""``KubeClient``: the few Kubernetes reads and writes of the day-2 operations, over the official client.

Owns: building an ``ApiClient`` from a kubeconfig (a path *or* the content, as pulumi-kubernetes accepts
``kubernetes:kubeconfig``) and a context; typed views of namespaces, Secrets, pods and the SAP BTP service
operator's ``ServiceInstance`` / ``ServiceBinding`` objects; the conventions every caller relies on:

- a missing object is ``None`` (``get_*``) or ``False`` (``delete_*``: already gone is not an error);
- every other API or connection failure is one :class:`KubeError` line naming the verb, the object and the
  API's reason (the Status ``message`` of kube-apiserver; never a header, a token or Secret data);
- merge patches are sent as ``application/merge-patch+json`` explicitly: without it, client 37 sends a
  mapping body as ``strategic-merge-patch+json`` (``kubernetes/client/rest.py``,
  ``RESTClientObject.request``), which kube-apiserver refuses for custom resources (415).

No kubectl and no pulumi-kubernetes here; this is the layer of the BTP clients (imports conventions only).
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from btp_infra.conventions import (
    OPERATOR_API_GROUP,
    OPERATOR_API_VERSION,
    OPERATOR_BINDING_PLURAL,
    OPERATOR_INSTANCE_PLURAL,
)

__all__ = [
    "MERGE_PATCH",
    "KubeClient",
    "KubeConfigError",
    "KubeError",
    "Namespace",
    "OperatorKind",
    "OperatorObject",
    "Pod",
    "Secret",
    "is_kubeconfig_path",
]

T = TypeVar("T")
MERGE_PATCH = "application/merge-patch+json"
OperatorKind = Literal["ServiceInstance", "ServiceBinding"]
_PLURALS: dict[str, str] = {
    "ServiceInstance": OPERATOR_INSTANCE_PLURAL,
    "ServiceBinding": OPERATOR_BINDING_PLURAL,
}
_DEFAULT_TIMEOUT = 30.0
_OPAQUE = "Opaque"  # the default Secret type
_CONFIG: Any = k8s_config  # its loaders are untyped


class KubeError(Exception):
    """A Kubernetes API call failed: one line, no secret. ``status`` is the HTTP code (0: no answer),
    ``reason`` the Status reason (``NotFound``, ``AlreadyExists``, ``Conflict``, ``Forbidden``, ...)."""

    def __init__(self, message: str, *, status: int = 0, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class KubeConfigError(KubeError):
    """The kubeconfig cannot be used (unreadable, not a kubeconfig, no such context)."""


def _meta(raw: Mapping[str, Any]) -> dict[str, Any]:
    meta = raw.get("metadata")
    return dict(meta) if isinstance(meta, Mapping) else {}


def _with_labels(
    meta: dict[str, Any],
    labels: Mapping[str, str | None] | None,
    annotations: Mapping[str, str | None] | None,
    *,
    patch: bool = False,
) -> dict[str, Any]:
    """``meta`` with the ``labels`` and ``annotations`` given: for a new object the non-empty ones, for a
    merge patch (``patch``) every one given, empty too."""
    for key, value in (("labels", labels), ("annotations", annotations)):
        if value is not None and (patch or value):
            meta[key] = dict(value)
    return meta


def _b64(value: str) -> str:
    """A Secret ``data`` value as the API holds it."""
    return base64.b64encode(value.encode("utf-8")).decode("ascii")


def _str_map(value: object) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class Namespace:
    """A namespace: name, labels, annotations, phase (``Active``/``Terminating``) and the API's object."""

    name: str
    labels: dict[str, str]
    annotations: dict[str, str]
    phase: str
    deletion_timestamp: str | None
    resource_version: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_raw(cls, raw: dict[str, Any]) -> Namespace:
        meta = _meta(raw)
        status = raw.get("status") if isinstance(raw.get("status"), Mapping) else {}
        return cls(
            name=str(meta.get("name", "")),
            labels=_str_map(meta.get("labels")),
            annotations=_str_map(meta.get("annotations")),
            phase=str(status.get("phase") or "Active") if isinstance(status, Mapping) else "Active",
            deletion_timestamp=meta.get("deletionTimestamp"),
            resource_version=str(meta.get("resourceVersion", "")),
            raw=raw,
        )


@dataclass(frozen=True)
class Secret:
    """A Secret with its ``data`` decoded to text. Values are credentials: not in ``repr`` (nor ``raw``)."""

    name: str
    namespace: str
    labels: dict[str, str]
    annotations: dict[str, str]
    type: str
    resource_version: str
    data: dict[str, str] = field(repr=False)
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_raw(cls, raw: dict[str, Any]) -> Secret:
        meta = _meta(raw)
        data: dict[str, str] = {}
        encoded = raw.get("data")
        for key, value in encoded.items() if isinstance(encoded, Mapping) else []:
            try:
                data[str(key)] = base64.b64decode(str(value or ""), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                data[str(key)] = ""  # binary or malformed: present, but not usable as a credential
        return cls(
            name=str(meta.get("name", "")),
            namespace=str(meta.get("namespace", "")),
            labels=_str_map(meta.get("labels")),
            annotations=_str_map(meta.get("annotations")),
            type=str(raw.get("type") or "Opaque"),
            resource_version=str(meta.get("resourceVersion", "")),
            data=data,
            raw=raw,
        )


@dataclass(frozen=True)
class Pod:
    """A pod: its containers' names, annotations, phase and when it was created / started."""

    name: str
    namespace: str
    containers: tuple[str, ...]
    init_containers: tuple[str, ...]
    labels: dict[str, str]
    annotations: dict[str, str]
    phase: str
    creation_timestamp: str | None
    start_time: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_raw(cls, raw: dict[str, Any]) -> Pod:
        meta = _meta(raw)
        spec = raw.get("spec") if isinstance(raw.get("spec"), Mapping) else {}
        status = raw.get("status") if isinstance(raw.get("status"), Mapping) else {}
        assert isinstance(spec, Mapping) and isinstance(status, Mapping)

        def names(key: str) -> tuple[str, ...]:
            items = spec.get(key)
            return tuple(str(c.get("name", "")) for c in items or [] if isinstance(c, Mapping))

        return cls(
            name=str(meta.get("name", "")),
            namespace=str(meta.get("namespace", "")),
            containers=names("containers"),
            init_containers=names("initContainers"),
            labels=_str_map(meta.get("labels")),
            annotations=_str_map(meta.get("annotations")),
            phase=str(status.get("phase") or ""),
            creation_timestamp=meta.get("creationTimestamp"),
            start_time=status.get("startTime"),
            raw=raw,
        )


@dataclass(frozen=True)
class OperatorObject:
    """A ``ServiceInstance`` or ``ServiceBinding`` of the SAP BTP service operator."""

    kind: str
    name: str
    namespace: str
    finalizers: tuple[str, ...]
    deletion_timestamp: str | None
    ready: bool
    conditions: tuple[dict[str, Any], ...]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_raw(cls, raw: dict[str, Any], kind: str) -> OperatorObject:
        meta = _meta(raw)
        status = raw.get("status") if isinstance(raw.get("status"), Mapping) else {}
        assert isinstance(status, Mapping)
        conditions = tuple(dict(c) for c in status.get("conditions") or [] if isinstance(c, Mapping))
        ready = any(c.get("type") == "Ready" and str(c.get("status")) == "True" for c in conditions)
        return cls(
            kind=str(raw.get("kind") or kind),
            name=str(meta.get("name", "")),
            namespace=str(meta.get("namespace", "")),
            finalizers=tuple(str(f) for f in meta.get("finalizers") or []),
            deletion_timestamp=meta.get("deletionTimestamp"),
            ready=ready,
            conditions=conditions,
            raw=raw,
        )


def _expand_home(value: str) -> str:
    if value == "~" or value.startswith("~/"):
        return str(Path.home() / value[2:]) if value != "~" else str(Path.home())
    return value


def is_kubeconfig_path(value: str) -> bool:
    """Whether a ``kubeconfig`` value names a file: pulumi-kubernetes reads it as a path when ``os.Stat``
    succeeds (after expanding ``~``), else as the content (``provider/pkg/provider/util.go``,
    ``parseKubeconfigString``). A content is never passed to ``stat`` when it is multi-line."""
    if not value or "\n" in value:
        return False
    try:
        return os.path.exists(_expand_home(value))
    except (OSError, ValueError):
        return False


def _looks_like_path(value: str) -> bool:
    """A one-line value naming a file (shown in messages; content never is)."""
    return (
        len(value) < 300
        and "\n" not in value
        and (value.startswith(("/", "~", "./", "../")) or value.endswith((".yaml", ".yml", "config")))
    )


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _status_message(exc: ApiException) -> tuple[str, str]:
    """(reason, message) of a kube-apiserver Status body; the HTTP reason phrase when there is none."""
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str) and body.strip().startswith("{"):
        try:
            parsed = yaml.safe_load(body)
        except yaml.YAMLError:
            parsed = None
        if isinstance(parsed, Mapping) and parsed.get("kind") == "Status":
            return str(parsed.get("reason") or ""), _one_line(str(parsed.get("message") or ""))
    return "", _one_line(str(exc.reason or "error"))


class KubeClient:
    """The Kubernetes API of one cluster context. Build with :meth:`from_kubeconfig`; ``close()`` (or use as a
    context manager) releases the connection pool."""

    def __init__(self, api_client: Any, *, timeout: float = _DEFAULT_TIMEOUT) -> None:
        self.api_client = api_client
        self.timeout = timeout
        self.core = k8s.CoreV1Api(api_client)
        self.custom = k8s.CustomObjectsApi(api_client)

    # -- construction -----------------------------------------------------------------------------------

    @classmethod
    def from_kubeconfig(
        cls, kubeconfig: str | Mapping[str, Any] | None = None, context: str | None = None, **kwargs: Any
    ) -> KubeClient:
        """A client for ``context`` (else the kubeconfig's ``current-context``) of ``kubeconfig``: a path, the
        YAML/JSON content, a parsed mapping, or None for ``$KUBECONFIG`` (a list of files, merged) /
        ``~/.kube/config`` — what pulumi-kubernetes does with an empty ``kubeconfig`` (``provider.go``,
        ``Configure``: client-go's ``NewDefaultClientConfigLoadingRules``)."""
        try:
            if kubeconfig is None:
                # read $KUBECONFIG now: the client's default location is fixed when it is imported
                files = os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
                api = _CONFIG.new_client_from_config(config_file=files, context=context, persist_config=False)
            else:
                if isinstance(kubeconfig, str) and is_kubeconfig_path(kubeconfig):
                    try:
                        text = Path(_expand_home(kubeconfig)).read_text(encoding="utf-8")
                    except OSError as exc:
                        raise KubeConfigError(f"kubeconfig: cannot read the file: {exc.strerror}") from None
                    parsed: object = _load_yaml(text)
                elif isinstance(kubeconfig, str):
                    parsed = _load_yaml(kubeconfig)
                    if _looks_like_path(kubeconfig) and not isinstance(parsed, Mapping):
                        raise KubeConfigError(f"kubeconfig: no such file: {kubeconfig}")
                else:
                    parsed = dict(kubeconfig)
                if not isinstance(parsed, Mapping) or not parsed.get("clusters"):
                    raise KubeConfigError("kubeconfig: not a kubeconfig (no clusters)")
                contexts = [
                    str(c.get("name")) for c in parsed.get("contexts") or [] if isinstance(c, Mapping)
                ]
                if context is not None and context not in contexts:
                    valid = ", ".join(repr(c) for c in contexts) or "none"
                    raise KubeConfigError(f"kubeconfig: no context {context!r} (contexts: {valid})")
                api = _CONFIG.new_client_from_config_dict(dict(parsed), context=context, persist_config=False)
        except ConfigException as exc:
            raise KubeConfigError(f"kubeconfig: {_one_line(str(exc))}") from None
        return cls(api, **kwargs)

    def close(self) -> None:
        self.api_client.close()

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def host(self) -> str:
        """The API server's URL (no credentials in it)."""
        return str(self.api_client.configuration.host)

    # -- error mapping ----------------------------------------------------------------------------------

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except ApiException as exc:
            reason, message = _status_message(exc)
            status = int(exc.status or 0)
            raise KubeError(
                f"{what}: {status} {reason or 'error'}: {message}"
                if message
                else f"{what}: {status} {reason}",
                status=status,
                reason=reason,
            ) from None
        except (OSError, ValueError) as exc:  # urllib3 connection errors are OSErrors (MaxRetryError aside)
            raise KubeError(
                f"{what}: cannot reach the Kubernetes API at {self.host}: {type(exc).__name__}"
            ) from None
        except Exception as exc:
            if type(exc).__module__.startswith("urllib3"):
                raise KubeError(
                    f"{what}: cannot reach the Kubernetes API at {self.host}: {type(exc).__name__}"
                ) from None
            raise

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self._errors(what):
            result = fn(*args, _request_timeout=self.timeout, **kwargs)
        return result

    def _get(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        try:
            return self._raw(self._call(what, fn, *args, **kwargs))
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    def _delete(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
        try:
            self._call(what, fn, *args, **kwargs)
        except KubeError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def _raw(self, obj: Any) -> dict[str, Any]:
        """The API's camelCase shape of a model (or a custom object's dict as it came)."""
        data = obj if isinstance(obj, dict) else self.api_client.sanitize_for_serialization(obj)
        return dict(data) if isinstance(data, Mapping) else {}

    def _items(self, result: Any) -> list[dict[str, Any]]:
        raw = self._raw(result)
        return [dict(i) for i in raw.get("items") or [] if isinstance(i, Mapping)]

    # -- namespaces -------------------------------------------------------------------------------------

    def get_namespace(self, name: str) -> Namespace | None:
        raw = self._get(f"get namespace {name}", self.core.read_namespace, name)
        return None if raw is None else Namespace.from_raw(raw)

    def list_namespaces(self, label_selector: str | None = None) -> list[Namespace]:
        result = self._call("list namespaces", self.core.list_namespace, label_selector=label_selector)
        return [Namespace.from_raw(i) for i in self._items(result)]

    def patch_namespace_labels(self, name: str, labels: Mapping[str, str | None]) -> Namespace:
        """Set (or, with ``None``, remove) labels of a namespace; other labels stay."""
        body = {"metadata": {"labels": dict(labels)}}
        result = self._call(
            f"patch namespace {name}", self.core.patch_namespace, name, body, _content_type=MERGE_PATCH
        )
        return Namespace.from_raw(self._raw(result))

    def patch_namespace(
        self,
        name: str,
        *,
        labels: Mapping[str, str | None] | None = None,
        annotations: Mapping[str, str | None] | None = None,
    ) -> Namespace:
        """Merge-patch a namespace's labels and annotations (``None`` removes one; others stay)."""
        meta = _with_labels({}, labels, annotations, patch=True)
        result = self._call(
            f"patch namespace {name}",
            self.core.patch_namespace,
            name,
            {"metadata": meta},
            _content_type=MERGE_PATCH,
        )
        return Namespace.from_raw(self._raw(result))

    def create_namespace(
        self,
        name: str,
        *,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> Namespace:
        """Create a namespace; :class:`KubeError` ``AlreadyExists`` (409) when it exists."""
        meta = _with_labels({"name": name}, labels, annotations)
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}
        result = self._call(f"create namespace {name}", self.core.create_namespace, body)
        return Namespace.from_raw(self._raw(result))

    def delete_namespace(self, name: str) -> bool:
        """Ask for deletion (a namespace with content is ``Terminating`` until it is empty); False when it
        was already gone."""
        return self._delete(f"delete namespace {name}", self.core.delete_namespace, name)

    # -- secrets ----------------------------------------------------------------------------------------

    def get_secret(self, namespace: str, name: str) -> Secret | None:
        raw = self._get(f"get secret {namespace}/{name}", self.core.read_namespaced_secret, name, namespace)
        return None if raw is None else Secret.from_raw(raw)

    def list_secrets(self, namespace: str | None = None, label_selector: str | None = None) -> list[Secret]:
        """Secrets of one namespace, or of every namespace (``namespace=None``), by label selector."""
        if namespace is None:
            result = self._call(
                "list secrets in all namespaces",
                self.core.list_secret_for_all_namespaces,
                label_selector=label_selector,
            )
        else:
            result = self._call(
                f"list secrets in {namespace}",
                self.core.list_namespaced_secret,
                namespace,
                label_selector=label_selector,
            )
        return [Secret.from_raw(i) for i in self._items(result)]

    @staticmethod
    def secret_body(
        namespace: str,
        name: str,
        data: Mapping[str, str],
        *,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        resource_version: str | None = None,
        secret_type: str = _OPAQUE,
    ) -> dict[str, Any]:
        """The API shape of a Secret (``data`` base64-encoded here)."""
        meta = _with_labels({"name": name, "namespace": namespace}, labels, annotations)
        if resource_version:
            meta["resourceVersion"] = resource_version
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta,
            "type": secret_type,
            "data": {k: _b64(v) for k, v in data.items()},
        }

    def create_secret(
        self,
        namespace: str,
        name: str,
        data: Mapping[str, str],
        *,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        secret_type: str = _OPAQUE,
    ) -> Secret:
        """Create a Secret; :class:`KubeError` with ``reason == "AlreadyExists"`` (409) when it exists."""
        body = self.secret_body(
            namespace, name, data, labels=labels, annotations=annotations, secret_type=secret_type
        )
        result = self._call(
            f"create secret {namespace}/{name}", self.core.create_namespaced_secret, namespace, body
        )
        return Secret.from_raw(self._raw(result))

    def patch_secret(
        self,
        namespace: str,
        name: str,
        *,
        data: Mapping[str, str | None] | None = None,
        labels: Mapping[str, str | None] | None = None,
        annotations: Mapping[str, str | None] | None = None,
        resource_version: str | None = None,
    ) -> Secret:
        """Merge-patch a Secret in place (``None`` removes a key); with ``resource_version`` only if unchanged
        since (409 ``Conflict`` otherwise)."""
        meta = _with_labels({}, labels, annotations, patch=True)
        if resource_version:
            meta["resourceVersion"] = resource_version
        body: dict[str, Any] = {"metadata": meta}
        if data is not None:
            body["data"] = {k: None if v is None else _b64(v) for k, v in data.items()}
        result = self._call(
            f"patch secret {namespace}/{name}",
            self.core.patch_namespaced_secret,
            name,
            namespace,
            body,
            _content_type=MERGE_PATCH,
        )
        return Secret.from_raw(self._raw(result))

    def replace_secret(
        self,
        namespace: str,
        name: str,
        data: Mapping[str, str],
        *,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        resource_version: str | None = None,
        secret_type: str = _OPAQUE,
    ) -> Secret:
        """Replace a Secret (PUT); with ``resource_version`` only if unchanged since (409 ``Conflict``)."""
        body = self.secret_body(
            namespace,
            name,
            data,
            labels=labels,
            annotations=annotations,
            resource_version=resource_version,
            secret_type=secret_type,
        )
        result = self._call(
            f"replace secret {namespace}/{name}", self.core.replace_namespaced_secret, name, namespace, body
        )
        return Secret.from_raw(self._raw(result))

    def delete_secret(self, namespace: str, name: str) -> bool:
        """Delete a Secret; False when it was already gone."""
        return self._delete(
            f"delete secret {namespace}/{name}", self.core.delete_namespaced_secret, name, namespace
        )

    # -- config maps ------------------------------------------------------------------------------------

    def get_config_map(self, namespace: str, name: str) -> dict[str, str] | None:
        """A ConfigMap's ``data`` (None when there is no such ConfigMap)."""
        raw = self._get(
            f"get configmap {namespace}/{name}", self.core.read_namespaced_config_map, name, namespace
        )
        return None if raw is None else _str_map(raw.get("data"))

    # -- pods -------------------------------------------------------------------------------------------

    def list_pods(self, namespace: str, label_selector: str | None = None) -> list[Pod]:
        result = self._call(
            f"list pods in {namespace}",
            self.core.list_namespaced_pod,
            namespace,
            label_selector=label_selector,
        )
        return [Pod.from_raw(i) for i in self._items(result)]

    # -- the operator's custom resources --------------------------------------------------------------

    def list_operator_objects(
        self, kind: OperatorKind, namespace: str | None = None, label_selector: str | None = None
    ) -> list[OperatorObject]:
        """``ServiceInstance``s or ``ServiceBinding``s of a namespace (or of all, ``namespace=None``).
        Where the operator's CRDs are not installed, the API answers 404: no objects (there can be none)."""
        plural = _PLURALS[kind]
        where = f"in {namespace}" if namespace else "in all namespaces"
        try:
            if namespace is None:
                result = self._call(
                    f"list {plural} {where}",
                    self.custom.list_cluster_custom_object,
                    OPERATOR_API_GROUP,
                    OPERATOR_API_VERSION,
                    plural,
                    label_selector=label_selector,
                )
            else:
                result = self._call(
                    f"list {plural} {where}",
                    self.custom.list_namespaced_custom_object,
                    OPERATOR_API_GROUP,
                    OPERATOR_API_VERSION,
                    namespace,
                    plural,
                    label_selector=label_selector,
                )
        except KubeError as exc:
            if exc.status == 404 and exc.reason in ("NotFound", ""):
                return []
            raise
        return [OperatorObject.from_raw(i, kind) for i in self._items(result)]

    def get_operator_object(self, kind: OperatorKind, namespace: str, name: str) -> OperatorObject | None:
        plural = _PLURALS[kind]
        raw = self._get(
            f"get {plural} {namespace}/{name}",
            self.custom.get_namespaced_custom_object,
            OPERATOR_API_GROUP,
            OPERATOR_API_VERSION,
            namespace,
            plural,
            name,
        )
        return None if raw is None else OperatorObject.from_raw(raw, kind)

    def delete_operator_object(self, kind: OperatorKind, namespace: str, name: str) -> bool:
        """Ask for deletion (the operator removes its finalizer once the BTP object is gone; until then the
        object stays with a ``deletionTimestamp``). False when it was already gone."""
        plural = _PLURALS[kind]
        return self._delete(
            f"delete {plural} {namespace}/{name}",
            self.custom.delete_namespaced_custom_object,
            OPERATOR_API_GROUP,
            OPERATOR_API_VERSION,
            namespace,
            plural,
            name,
        )


def _load_yaml(text: str) -> object:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        raise KubeConfigError("kubeconfig: not valid YAML") from None

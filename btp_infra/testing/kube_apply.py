"""Apply ``LocalEngine``'s Kubernetes steps to a Kubernetes API (the stand-in of :mod:`.kube_api`) through the
official ``kubernetes`` client, with pulumi-kubernetes' update semantics — test machinery.

Owns :class:`KubeApplier` and the replacement rule :func:`replace_reasons`. What pulumi-kubernetes does, read
from its source (github.com/pulumi/pulumi-kubernetes):

- Replace or update: an object is replaced when a *force-new* property changes —
  ``.metadata.name``, ``.metadata.namespace``, and per kind; a ``Secret``'s ``.type`` always, and its
  ``.stringData``/``.data`` too unless the provider has ``enableSecretMutable`` and the Secret is not
  ``immutable`` (``provider/pkg/provider/diff.go``: ``forceNewProperties``, ``forceNew`` ``core``/``v1``).
- A replaced object that keeps its name and namespace is deleted *before* its replacement is created
  (``provider/pkg/provider/provider.go``: ``Diff``, ``deleteBeforeReplace``); one that moves is created first
  and the old one deleted with the update's deletes (the engine's create-before-delete, modelled by
  ``LocalEngine``).
- An update patches the live object from the old inputs to the new ones (client-side apply: a merge patch,
  ``provider/pkg/await/await.go``: ``csaUpdate``; server-side apply sends the whole object instead,
  ``ssaUpdate`` — the same result for these objects); here a JSON merge patch (RFC 7386) of the inputs.
- A create POSTs the object (``await.go``: ``Creation``); a delete DELETEs it, an absent object is already
  gone (``await.go``: ``Deletion``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import kubernetes.client as k8s
from kubernetes.client.exceptions import ApiException

from btp_infra.kube import KubeClient
from btp_infra.offline.graph import unwrap_secrets
from btp_infra.policy.rules import plain

__all__ = ["KubeApplier", "Step", "kube_object", "replace_reasons"]

Step = Literal["create", "update", "replace", "same"]
_MERGE_PATCH = "application/merge-patch+json"
_CORE_KINDS = {"Namespace": "namespace", "Secret": "secret", "ResourceQuota": "resource_quota"}
_CORE_KINDS["LimitRange"] = "limit_range"


def _deep_plain(value: Any) -> Any:
    """``value`` without secret wrapping at any depth (what the provider sends to the API server)."""
    value = plain(unwrap_secrets(value))
    if isinstance(value, Mapping):
        return {str(k): _deep_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_plain(v) for v in value]
    return value


def kube_object(type_token: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The Kubernetes object a pulumi-kubernetes resource's inputs describe (``kubernetes:<group>/<version>:
    <Kind>``), secrets unwrapped."""
    group_version, kind = type_token.split(":", 1)[1].rsplit(":", 1)
    group, _, version = group_version.rpartition("/")
    body: dict[str, Any] = dict(_deep_plain(dict(inputs)))
    body["apiVersion"] = version if group in ("", "core") else f"{group}/{version}"
    body["kind"] = kind
    return body


def _get(obj: Mapping[str, Any], path: str) -> Any:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def replace_reasons(
    old: Mapping[str, Any], new: Mapping[str, Any], *, enable_secret_mutable: bool
) -> list[str]:
    """The changed force-new properties (``diff.go``: ``forceNewProperties``); empty = update in place."""
    paths = ["metadata.name", "metadata.namespace"]
    if new.get("kind") == "Secret":
        paths.append("type")
        if not enable_secret_mutable or new.get("immutable") is True:
            paths += ["stringData", "data"]
    return [p for p in paths if _get(old, p) != _get(new, p)]


def _merge_patch(old: Any, new: Any) -> Any:
    """The RFC 7386 merge patch that turns ``old`` into ``new``."""
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        return new
    patch: dict[str, Any] = {k: None for k in old if k not in new}
    for key, value in new.items():
        if key not in old:
            patch[key] = value
        elif old[key] != value:
            patch[key] = _merge_patch(old[key], value)
    return patch


class KubeApplier:
    """Creates, updates (merge patch), replaces and deletes objects on the API of ``kube``."""

    def __init__(self, kube: KubeClient) -> None:
        self.kube = kube
        self.core = k8s.CoreV1Api(kube.api_client)
        self.networking = k8s.NetworkingV1Api(kube.api_client)
        self.custom = k8s.CustomObjectsApi(kube.api_client)

    @staticmethod
    def plan(old: Mapping[str, Any], new: Mapping[str, Any], *, enable_secret_mutable: bool) -> Step:
        """What pulumi-kubernetes does to go from ``old`` to ``new`` (objects as :func:`kube_object`)."""
        if old == new:
            return "same"
        reasons = replace_reasons(old, new, enable_secret_mutable=enable_secret_mutable)
        return "replace" if reasons else "update"

    @staticmethod
    def delete_before_replace(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
        """A replacement keeping name and namespace deletes first (``provider.go``: ``Diff``)."""
        return all(_get(old, p) == _get(new, p) for p in ("metadata.name", "metadata.namespace"))

    def create(self, obj: Mapping[str, Any]) -> None:
        self._call("create", obj, dict(obj))

    def update(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        self._call("patch", new, _merge_patch(old, new))

    def delete(self, obj: Mapping[str, Any]) -> None:
        try:
            self._call("delete", obj, None)
        except ApiException as exc:
            if exc.status != 404:  # already gone: done
                raise

    def _call(self, verb: str, obj: Mapping[str, Any], body: Any) -> None:
        kind, api_version = str(obj["kind"]), str(obj["apiVersion"])
        meta = obj.get("metadata") or {}
        name, namespace = str(meta.get("name", "")), str(meta.get("namespace", ""))
        if kind in _CORE_KINDS and "/" not in api_version:
            noun = _CORE_KINDS[kind]
            scoped = "" if kind == "Namespace" else "namespaced_"
            fn = getattr(self.core, f"{verb}_{scoped}{noun}")
            args: list[Any] = ([] if verb == "create" else [name]) + ([namespace] if scoped else [])
        elif kind == "NetworkPolicy":
            fn = getattr(self.networking, f"{verb}_namespaced_network_policy")
            args = ([] if verb == "create" else [name]) + [namespace]
        else:
            group, version = api_version.split("/", 1)
            plural = kind.lower() + ("es" if kind.lower().endswith("s") else "s")
            fn = getattr(self.custom, f"{verb}_namespaced_custom_object")
            args = [group, version, namespace, plural] + ([] if verb == "create" else [name])
        kwargs: dict[str, Any] = {}
        if verb == "patch":
            kwargs["_content_type"] = _MERGE_PATCH
        if body is not None:
            kwargs["body"] = body
        fn(*args, **kwargs)

"""Service Manager v1 data models (§B.3, §B.5) and request helpers (query literals, labels, parameters).

Also owns btp-infra's SM labels (§B.8): the label-key grammar, the labels of a tenant's objects, the label
queries that find them, and the PATCH operations that turn one set of labels into another.

Validation errors never show their input (``hide_input_in_errors``): a binding's ``credentials`` that are not
an object (a string, a list) would otherwise be printed in the error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Secret

from btp_infra.conventions import PROJECT, SM_MANAGED_BY_LABEL, SM_TENANT_LABEL

from .keys import BindingCredentials, parse_binding_credentials

__all__ = [
    "MANAGED_QUERY",
    "SM_LABEL_KEY",
    "AnyEntity",
    "CredentialType",
    "Entity",
    "Labels",
    "Operation",
    "ServiceBinding",
    "ServiceInstance",
    "ServiceOffering",
    "ServicePlan",
    "binding_parameters",
    "is_tenants",
    "label_changes",
    "label_ops",
    "managed_labels",
    "quote",
    "tenant_labels",
    "tenant_query",
]

Labels = Mapping[str, Sequence[str]]


SM_LABEL_KEY: Final = re.compile(r"[A-Za-z0-9._-]{1,100}")
"""An SM label key (§B.8); use with ``fullmatch``."""


def quote(value: str) -> str:
    """A ``fieldQuery``/``labelQuery`` string literal (§B.6): single quotes, ``'`` doubled."""
    return "'" + value.replace("'", "''") + "'"


MANAGED_QUERY: Final = f"{SM_MANAGED_BY_LABEL} eq {quote(PROJECT)}"
"""The ``labelQuery`` of every SM instance and binding btp-infra created (all tenants)."""


def tenant_labels(tenant: str) -> dict[str, list[str]]:
    """The labels btp-infra puts on a tenant's (namespace's) SM instance and binding."""
    return {SM_MANAGED_BY_LABEL: [PROJECT], SM_TENANT_LABEL: [tenant]}


def tenant_query(tenant: str) -> str:
    """The SM label query for btp-infra's objects of one tenant (namespace)."""
    return f"{MANAGED_QUERY} and {SM_TENANT_LABEL} eq {quote(tenant)}"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", hide_input_in_errors=True)


def _credentials_object(value: Any) -> Any:
    """Binding credentials must be a JSON object; the error says so without the value."""
    if value is None:
        return {}
    if isinstance(value, Secret | Mapping):
        return value
    raise ValueError(f"must be a JSON object, not {type(value).__name__} (the value is not shown)")


Credentials = Annotated[Secret[dict[str, Any]], BeforeValidator(_credentials_object)]


class Operation(_Model):
    """An SM operation (§B.5); ``state`` is ``in progress``, ``succeeded``, ``failed`` (or ``pending``)."""

    id: str = ""
    type: str = ""
    state: str = ""
    description: str | None = None
    resource_id: str | None = None
    resource_type: str | None = None
    errors: Any = None

    @property
    def in_progress(self) -> bool:
        return self.state in ("in progress", "pending")

    def failure_text(self) -> str | None:
        """The broker's description of a failure, if any."""
        errors = self.errors
        if isinstance(errors, dict):
            text = errors.get("description") or errors.get("message") or errors.get("error")
            if text:
                return str(text)
        if isinstance(errors, list) and errors:
            return "; ".join(str(e.get("description", e)) if isinstance(e, dict) else str(e) for e in errors)
        return self.description


class ServiceOffering(_Model):
    id: str
    name: str
    catalog_name: str = ""
    broker_id: str | None = None


class ServicePlan(_Model):
    id: str
    name: str
    catalog_name: str = ""
    service_offering_id: str = ""


class Entity(_Model):
    """Fields shared by instances and bindings."""

    id: str
    name: str
    ready: bool = False
    labels: dict[str, list[str]] = Field(default_factory=dict)
    last_operation: Operation | None = None


class ServiceInstance(Entity):
    service_plan_id: str = ""
    usable: bool | None = None
    subaccount_id: str | None = None
    platform_id: str | None = None
    dashboard_url: str | None = None


class ServiceBinding(Entity):
    service_instance_id: str = ""
    subaccount_id: str | None = None
    credentials: Credentials = Field(default_factory=lambda: Secret[dict[str, Any]]({}))

    def binding_credentials(self) -> BindingCredentials:
        """The credentials as a typed model (client-secret or x509 shape)."""
        return parse_binding_credentials(self.credentials.get_secret_value(), source=f"binding {self.name}")


CredentialType = Literal["client-secret", "x509"]
"""``conventions.CREDENTIAL_TYPES`` as a type (a ``Literal`` cannot be built from the tuple)."""


def binding_parameters(
    credential_type: CredentialType, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Binding ``parameters`` for a credential type (§B.1: ``{"credential-type": "x509"}``).

    ``x509`` options (``key-length``, ``validity``) are whole numbers for Service Manager; Pulumi hands every
    number over as a float (``30.0``), so integral floats there are sent as integers again.
    """
    params = dict(extra or {})
    if credential_type == "x509":
        params["credential-type"] = "x509"
    x509 = params.get("x509")
    if isinstance(x509, Mapping):
        params["x509"] = {
            k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in x509.items()
        }
    return params


class AnyEntity(Entity):
    """Any SM object, when only its id and last operation matter."""


def is_tenants(entity: Entity, tenant: str | None) -> bool:
    """True for an SM object btp-infra labelled as ``tenant``'s."""
    if not tenant:
        return False
    return all(entity.labels.get(key) == values for key, values in tenant_labels(tenant).items())


def label_changes(old: Labels | None, new: Labels | None) -> list[dict[str, Any]]:
    """SM PATCH label operations turning ``old`` into ``new`` (§B.8)."""
    old, new = old or {}, new or {}
    ops: list[dict[str, Any]] = []
    for key in sorted(set(old) | set(new)):
        before, after = set(old.get(key, [])), set(new.get(key, []))
        if not after:
            if before:
                ops.append({"op": "remove", "key": key})
            continue
        if after - before:
            ops.append({"op": "add", "key": key, "values": sorted(after - before)})
        if before - after:
            ops.append({"op": "remove", "key": key, "values": sorted(before - after)})
    return ops


def managed_labels(live: Labels, declared: Labels | None) -> dict[str, list[str]]:
    """The live labels restricted to the keys we declare (labels others add are not drift)."""
    return {k: sorted(v) for k, v in live.items() if k in (declared or {})}


def label_ops(
    remove: Sequence[str] | Labels | None,
    add: Labels | None,
    raw: Sequence[Mapping[str, Any]] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """SM label change operations (§B.8), split into removals and additions."""
    removes: list[dict[str, Any]] = []
    if isinstance(remove, Mapping):
        removes = [{"op": "remove", "key": k, "values": list(v)} for k, v in remove.items()]
    elif remove is not None:
        if isinstance(remove, str):
            raise TypeError("labels_remove must be a sequence of keys, not a string")
        removes = [{"op": "remove", "key": k} for k in remove]
    adds = [{"op": "add", "key": k, "values": list(v)} for k, v in (add or {}).items()]
    for op in raw or ():
        kind = str(op.get("op", ""))
        if not kind.startswith(("add", "remove")) or "key" not in op:
            raise ValueError("label_ops entries need 'op' (add/remove[_values]) and 'key'")
        (adds if kind.startswith("add") else removes).append(dict(op))
    return removes, adds

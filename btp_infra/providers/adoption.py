"""Adopting a hand-made Service Manager instance or binding (stack config ``btp-infra:adopt``).

Owns what the instance and binding providers share when their input ``adopt`` is set: the one-line refusal
(:class:`AdoptionError`, naming the config key, the value and what would be valid), the label change that
puts btp-infra's SM labels on the object in place (only the keys btp-infra declares; everyone else's labels
stay), the ownership outputs (``adopted``, ``previousLabels``) carried through updates, and the give-back on
delete: an adopted object is *kept* — its previous labels restored, a ``btp-infra: kept …`` diagnostic —
unless the stack sets ``btp-infra:takeOwnership``. Restoring the labels matters: the admin access's sweep
(:meth:`~btp_infra.providers.sm_access.ServiceManagerAccessProvider.delete`) removes whatever still carries
this tenant's labels, and a kept object must not be found by it.

The input ``adopt`` is ``None`` (create as usual), ``True`` (find the object by its declared ``name``) or
an SM id (find it by id; its name must then be the declared one, so that no later diff sees a rename — a
binding cannot be renamed, and a changed name would replace it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from btp_infra.btp.errors import BtpError, NotFoundError
from btp_infra.btp.service_manager import ServiceManagerClient
from btp_infra.btp.sm_models import Entity, label_changes, managed_labels
from btp_infra.conventions import SM_TENANT_LABEL, config_key
from btp_infra.providers.base import log

__all__ = [
    "OWNERSHIP_OUTPUTS",
    "AdoptionError",
    "adopt_key",
    "adopted_outputs",
    "carry_ownership",
    "check_name",
    "check_unclaimed",
    "claimed_by",
    "give_back",
    "is_kept",
    "label_in_place",
    "refuse",
]

OWNERSHIP_OUTPUTS: Final = ("adopted", "previousLabels")
"""Outputs an adoption writes once (at create) and every later step carries over."""


class AdoptionError(BtpError):
    """The object named in ``btp-infra:adopt`` cannot be adopted (missing, of another kind, elsewhere)."""


def adopt_key(kind: str, adopt: object) -> str:
    """The stack-config key that named the object: ``btp-infra:adopt.instanceId`` (or ``…Name``)."""
    return config_key(f"adopt.{kind}{'Id' if isinstance(adopt, str) else 'Name'}")


def refuse(kind: str, adopt: object, name: str, problem: str, valid: str) -> AdoptionError:
    """The one-line refusal, in the config model's style: ``key: value — problem; valid: …``."""
    value = adopt if isinstance(adopt, str) else name
    return AdoptionError(
        f"{adopt_key(kind, adopt)}: {value!r} — {problem}; valid: {valid}", operation=f"adopt {kind} {value}"
    )


def claimed_by(entity: Entity, declared: Mapping[str, list[str]] | None) -> list[str]:
    """The other tenants whose btp-infra stack labelled ``entity`` as theirs (empty: free to adopt)."""
    ours = set((declared or {}).get(SM_TENANT_LABEL, []))
    return sorted(set(entity.labels.get(SM_TENANT_LABEL, [])) - ours)


def check_name(kind: str, adopt: object, name: str, found: Entity) -> None:
    """Refuse an object (found by id) whose name is not the declared one: a later diff would see a rename."""
    if found.name != name:
        raise refuse(
            kind,
            adopt,
            name,
            f"is named {found.name!r}, not {name!r}",
            f"also set {adopt_key(kind, True)}: {found.name}",
        )


def check_unclaimed(
    kind: str, adopt: object, name: str, found: Entity, declared: Mapping[str, list[str]] | None
) -> None:
    """Refuse an object another tenant's stack labelled as its own (:func:`claimed_by`)."""
    if others := claimed_by(found, declared):
        raise refuse(
            kind,
            adopt,
            name,
            f"belongs to tenant {', '.join(others)} (labelled by its btp-infra stack)",
            "a hand-made object no other stack manages",
        )


def label_in_place(entity: Entity, declared: Mapping[str, list[str]] | None) -> list[dict[str, Any]]:
    """SM label operations adding btp-infra's declared labels to ``entity`` (other keys untouched)."""
    return label_changes(managed_labels(entity.labels, declared), declared)


def adopted_outputs(entity: Entity, declared: Mapping[str, list[str]] | None) -> dict[str, Any]:
    """The ownership outputs of an adopted object: what it carried on btp-infra's label keys before."""
    return {"adopted": True, "previousLabels": managed_labels(entity.labels, declared)}


def carry_ownership(olds: Mapping[str, Any]) -> dict[str, Any]:
    """The ownership outputs of the previous state (an update keeps them)."""
    return {k: olds[k] for k in OWNERSHIP_OUTPUTS if k in olds}


def is_kept(props: Mapping[str, Any]) -> bool:
    """True for an adopted object that delete keeps (no ``takeOwnership``)."""
    return props.get("adopted") is True and props.get("takeOwnership") is not True


def give_back(
    sm: ServiceManagerClient, kind: str, id_: str, props: Mapping[str, Any], *, timeout: float
) -> None:
    """Keep an adopted object: restore its labels on btp-infra's keys, say so (a diagnostic)."""
    previous = props.get("previousLabels")
    ops = label_changes(props.get("labels"), previous if isinstance(previous, Mapping) else {})
    if ops:
        update = sm.update_instance if kind == "instance" else sm.update_binding
        try:
            update(id_, label_ops=ops, timeout=timeout)
        except NotFoundError:  # removed by hand meanwhile: gone is gone
            return
    log.warning(
        "btp-infra: kept the %s %s (%s): it existed before this stack (adopted; set btp-infra:takeOwnership "
        "to delete it with the stack)",
        kind,
        props.get("name"),
        id_,
    )

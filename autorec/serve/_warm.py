"""Warm start: a parent bundle's weights copied into a network built for a new catalogue.

Which axis of a parameter is item-sized or page-sized is found by building the genome's
network at two small probe sizes whose page, item and user counts grow by different
amounts (3, 5, 1): an axis that grows by 5 is an item axis (its offset, e.g. a padding row,
is read off too), by 3 a page axis, by 1 a user axis, by 0 a fixed one. This needs no
knowledge of the generated code's parameter names.

Then, parameter by parameter: fixed-size parameters of the same shape are copied; along an
item (page) axis the rows of items (pages) both catalogues hold are copied by raw id, rows
of new items keep the fresh initialisation of the new network, rows of vanished items are
dropped, and extra rows past the catalogue (padding) are copied by their offset. A
parameter that cannot be matched (a user axis, a changed fixed shape) stays fresh and is
reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from autorec.data.types import IdMap
from autorec.export import Bundle

__all__ = ["TransferReport", "axis_roles", "transfer_weights"]

_PROBES = (
    {"n_pages": 1201, "n_items": 1301, "n_users": 1101},
    {"n_pages": 1204, "n_items": 1306, "n_users": 1102},
)
_ROLE_OF_GROWTH = {0: "fixed", 3: "pages", 5: "items", 1: "users"}
_BASE = {"pages": 1201, "items": 1301, "users": 1101}


@dataclass
class TransferReport:
    """What a warm start copied, per parameter, and the catalogue overlap."""

    copied: list[str] = field(default_factory=list)  # whole tensors
    remapped: list[str] = field(default_factory=list)  # rows matched by raw id
    fresh: dict[str, str] = field(default_factory=dict)  # name -> why
    items: dict[str, int] = field(default_factory=dict)  # kept / new / dropped
    pages: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "copied": self.copied,
            "remapped": self.remapped,
            "fresh": self.fresh,
            "items": self.items,
            "pages": self.pages,
        }


def axis_roles(genome: Any) -> dict[str, list[tuple[str, int]]]:
    """Per parameter of ``genome``'s network: (role, offset) of each axis; role is
    ``fixed``, ``items``, ``pages``, ``users`` or ``unknown``."""
    from autorec.train import batching

    a, b = (batching.build(genome, dims).state_dict() for dims in _PROBES)
    roles: dict[str, list[tuple[str, int]]] = {}
    for name, t in a.items():
        if name not in b or b[name].dim() != t.dim():
            roles[name] = [("unknown", 0)] * t.dim()
            continue
        axes = []
        for n1, n2 in zip(t.shape, b[name].shape, strict=True):
            role = _ROLE_OF_GROWTH.get(int(n2) - int(n1), "unknown")
            axes.append((role, int(n1) - _BASE[role] if role in _BASE else 0))
        roles[name] = axes
    return roles


def _row_map(
    child_ids: npt.NDArray[np.str_], parent_ids: npt.NDArray[np.str_], size: int, offset: int
) -> npt.NDArray[np.int64]:
    """Parent row of each of the child's ``size`` rows along a catalogue axis (-1: none):
    catalogue rows by raw id, the ``offset`` extra rows after it by position."""
    n_child, n_parent = len(child_ids), len(parent_ids)
    out = np.full(size, -1, dtype=np.int64)
    out[:n_child] = IdMap(np.asarray(parent_ids, dtype=np.str_)).encode(child_ids)
    extra = np.arange(size - n_child, dtype=np.int64)
    out[n_child:] = n_parent + extra
    return out


def _overlap(child: npt.NDArray[np.str_], parent: npt.NDArray[np.str_]) -> dict[str, int]:
    kept = int(np.isin(child, parent).sum())
    return {"kept": kept, "new": len(child) - kept, "dropped": len(parent) - kept}


def transfer_weights(
    model: torch.nn.Module,
    parent: Bundle,
    genome: Any,
    item_ids: npt.NDArray[np.str_],
    page_ids: npt.NDArray[np.str_] | None,
    roles: Mapping[str, Sequence[tuple[str, int]]] | None = None,
) -> TransferReport:
    """Copy ``parent``'s weights into ``model`` (in place) where the catalogues allow (see
    the module docstring); ``item_ids`` / ``page_ids`` name ``model``'s rows."""
    roles = axis_roles(genome) if roles is None else roles
    source = parent.model.state_dict()
    ids = {"items": (np.asarray(item_ids, dtype=np.str_), parent.item_ids)}
    if page_ids is not None and parent.page_ids is not None:
        ids["pages"] = (np.asarray(page_ids, dtype=np.str_), parent.page_ids)
    report = TransferReport(items=_overlap(*ids["items"]))
    if "pages" in ids:
        report.pages = _overlap(*ids["pages"])
    with torch.no_grad():
        for name, target in model.state_dict().items():
            why = _copy_one(name, target, source.get(name), roles.get(name), ids)
            if why == "copied":
                report.copied.append(name)
            elif why == "remapped":
                report.remapped.append(name)
            else:
                report.fresh[name] = why
    return report


def _copy_one(
    name: str,
    target: torch.Tensor,
    src: torch.Tensor | None,
    axes: Sequence[tuple[str, int]] | None,
    ids: Mapping[str, tuple[npt.NDArray[np.str_], npt.NDArray[np.str_]]],
) -> str:
    """Copy ``src`` into ``target`` in place; "copied", "remapped" or why it stayed fresh."""
    if src is None:
        return "not in the parent"
    if axes is None or len(axes) != target.dim() or src.dim() != target.dim():
        return "shape differs from the parent's"
    index_t: list[Any] = []
    index_s: list[Any] = []
    catalogue_axes = 0
    for d, (role, offset) in enumerate(axes):
        if role == "fixed":
            if target.shape[d] != src.shape[d]:
                return f"axis {d} is {target.shape[d]} here, {src.shape[d]} in the parent"
            index_t.append(slice(None))
            index_s.append(slice(None))
            continue
        if role not in ids:
            return f"axis {d} is sized by {role}, which the parent does not map"
        child, parent = ids[role]
        if src.shape[d] != len(parent) + offset:
            return f"axis {d} does not match the parent's {role}"
        rows = _row_map(child, parent, int(target.shape[d]), offset)
        keep = np.flatnonzero(rows >= 0)
        shape = [1] * target.dim()
        shape[d] = len(keep)
        index_t.append(torch.from_numpy(keep).reshape(shape))
        index_s.append(torch.from_numpy(rows[keep]).reshape(shape))
        catalogue_axes += 1
    if catalogue_axes == 0:
        target.copy_(src.to(target.dtype))
        return "copied"
    # every axis is indexed by a broadcast tensor (fixed ones by their full range)
    full_t = tuple(
        torch.arange(target.shape[d]).reshape([-1 if i == d else 1 for i in range(target.dim())])
        if isinstance(ix, slice)
        else ix
        for d, ix in enumerate(index_t)
    )
    full_s = tuple(
        torch.arange(src.shape[d]).reshape([-1 if i == d else 1 for i in range(src.dim())])
        if isinstance(ix, slice)
        else ix
        for d, ix in enumerate(index_s)
    )
    target[full_t] = src[full_s].to(target.dtype)
    return "remapped"

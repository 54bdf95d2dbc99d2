"""The :class:`Family` protocol: everything the rest of the package asks of a model family.

A family couples a genome schema (its genes and their activity rules) with the data it
trains on and the protocol it is scored with. The session family (DRNN paper) trains on
page-view sessions; the purchase family (soft-split paper) on dated purchase histories.
Callers look a family up (:func:`autorec.families.get_family` by name,
:func:`autorec.families.family_of` by data) and call it; they never compare family names
or test data types themselves, so a third family is one more module registered with
:func:`autorec.families.register_family`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    import torch

    from autorec.data.types import EventLog
    from autorec.genome import Genome

__all__ = ["Family"]


@runtime_checkable
class Family(Protocol):
    """One model family. Attributes are class constants; methods import what they need
    late, so looking a family up never imports torch or the data readers."""

    #: The canonical name, as genomes and bundles spell it (``family: drnn``).
    name: str
    #: The data vocabulary's name for the same family (``EventLog.kind``: ``sessions``).
    data_kind: str
    #: The gene holding the number of hidden layers.
    depth_gene: str
    #: Default objectives of an ``nsga2`` search (``fitness`` first).
    nsga2_objectives: tuple[str, ...]
    #: Whether the fitness run's network is the one the test metrics score (so kept
    #: weights can be scored again without training).
    kept_weights_final: bool

    # -- genome schema ------------------------------------------------------------------
    def inactive_genes(self, values: Mapping[str, Any]) -> set[str]:
        """The family's own activity rules: genes these values leave unused."""
        ...

    # -- data -----------------------------------------------------------------------------
    def accepts(self, data: object) -> bool:
        """Whether ``data`` is this family's loaded data set."""
        ...

    def check_data(self, data: object) -> None:
        """Raise an :class:`AutorecError` when ``data`` is not this family's data."""
        ...

    def synthesize(self, rng: np.random.Generator) -> EventLog:
        """The built-in synthetic event log of this family's kind."""
        ...

    def load_data(
        self,
        path: Any,
        split: str | None,
        *,
        seed: int = 0,
        train_windows: int = 1,
        autoencoder: bool = False,
    ) -> Any:
        """The data set the family trains on (``path`` None: synthetic data)."""
        ...

    def dims(self, data: Any) -> dict[str, int]:
        """Sizes the networks of a search on ``data`` are built for."""
        ...

    # -- training -------------------------------------------------------------------------
    def default_accuracy(self, k: int) -> str:
        """The fitness accuracy when the user names none."""
        ...

    def accuracy_mismatch(self, name: str, parts: Mapping[str, str | None]) -> tuple[str, str]:
        """``(problem, fix)`` when accuracy ``name`` (its regex groups ``parts``) does not
        fit this family; empty strings when it does."""
        ...

    def train(
        self,
        genome: Genome,
        data: Any,
        options: Any,
        on_epoch: Callable[[Any], None] | None,
        device: torch.device,
        box: dict[str, Any],
        init: Any = None,
    ) -> Any:
        """Train ``genome`` on ``data`` (:func:`autorec.train.train_genome`'s work)."""
        ...

    def spec(self, genome: Genome, dims: Any, devices: tuple[str, ...]) -> Any:
        """The code generator's network spec for ``genome`` and data of size ``dims``."""
        ...

    # -- search ---------------------------------------------------------------------------
    def trial_shape(self, config: Mapping[str, Any]) -> str:
        """The shape part of a trial's name (``w2l1h0``) from its flat config."""
        ...


def short(value: Any) -> str:
    """A config value for a name (``-`` when absent)."""
    return str(value) if value is not None else "-"

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
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from autorec.errors import AutorecError

if TYPE_CHECKING:
    import numpy as np
    import torch

    from autorec.data.types import EventLog, IntArray
    from autorec.genome import Genome

__all__ = ["Family", "Trainer", "check_data_kind", "iso", "short"]

#: ``train(genome, data, options, what) -> TrainResult``: export's checked training call
#: (a failed run raises an error naming ``what``).
Trainer = Callable[[Any, Any, Any, str], Any]


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
    #: What one recommendation is for: ``session`` (a prefix of page views) or
    #: ``customer`` (dated purchases) -- the shape of a served or replayed query.
    entity: str
    #: Whether the network reads pages (a bundle then holds the page map).
    needs_pages: bool
    #: The splits a saved network's metrics are reported on (``valid``, ``test``).
    evaluated_parts: tuple[str, ...]
    #: Whether ``--protocol`` (training windows, auto-encoder) shapes its training examples.
    training_protocols: bool
    #: What the family's data are called in messages (``session data``).
    data_noun: str
    #: The sizes a saved network and the data it is scored on must agree on.
    checked_dims: tuple[str, ...]

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

    def model_dims(self, data: Any) -> dict[str, int]:
        """Sizes of the network whose test metrics a training run on ``data`` reports."""
        ...

    def split_dates(self, data: Any) -> tuple[datetime, ...]:
        """The dates of ``data``'s split, in ``--split`` order."""
        ...

    def split_string(self, data: Any) -> str:
        """The ``--split`` argument that reloads ``data``."""
        ...

    def dates_card(self, data: Any, end: datetime | None) -> dict[str, str]:
        """The split's dates for a bundle's data card (``end``: a retrain-all's last day)."""
        ...

    def counts(self, data: Any) -> dict[str, int]:
        """Sizes of ``data`` for a bundle's data card."""
        ...

    def count_new(self, data: Any, since: int) -> int:
        """Sessions started / purchases made at or after unix time ``since``."""
        ...

    def sample_batch(self, genome: Genome, data: Any, rows: IntArray) -> dict[str, torch.Tensor]:
        """A training batch of the first of ``rows`` that exist (export's load-back check)."""
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

    # -- evaluation -----------------------------------------------------------------------
    def primary_metrics(self, k: int) -> tuple[str, ...]:
        """The test metrics compared with the baselines, the deciding one first."""
        ...

    def evaluate(
        self,
        ranker: Any,
        data: Any,
        *,
        k: int = 10,
        part: str = "test",
        ks: tuple[int, ...] | None = None,
    ) -> dict[str, float]:
        """Metrics of ``ranker`` (a baseline or a network's ranker) on ``data``'s ``part``
        (``test`` or ``valid``) with the family's protocol; ``ks``: the session cut-offs
        (default ``(1, k)``)."""
        ...

    def fit_baseline(self, model: Any, data: Any, *, validation: bool = False) -> Any:
        """Fit baseline ``model`` on ``data``'s training part (``validation``: the part the
        validation metrics are scored after)."""
        ...

    def model_ranker(
        self, genome: Genome, model: torch.nn.Module, data: Any, *, batch_size: int = 1024
    ) -> Any:
        """A ranker scoring ``data`` with a trained network of ``genome``."""
        ...

    # -- export ---------------------------------------------------------------------------
    def bundle_catalogue(self, genome: Genome, data: Any) -> dict[str, Any]:
        """``item_ids``, ``page_ids``, ``page_item`` (None without pages) and the manifest's
        ``inputs`` of a bundle trained on ``data``."""
        ...

    def retrain_all(
        self, genome: Genome, data: Any, options: Any, train: Trainer, what: str
    ) -> tuple[Any, Any, dict[str, Any], str, datetime | None]:
        """``export --retrain-all``: ``(data, result, metrics, how, end)`` -- the data the
        final network was trained on, its result, the metrics and a line saying how, and
        the last day of its data (None: the split's)."""
        ...

    # -- resources ------------------------------------------------------------------------
    def memory_terms(
        self, genes: Mapping[str, Any], dims: Any, batch: int, bag: int
    ) -> tuple[int, int, int, int, int]:
        """``(item params, other params, saved, transient, item activations)`` bytes of one
        training step of the family's network (:func:`autorec.sharding.estimate_memory`)."""
        ...

    # -- search ---------------------------------------------------------------------------
    def trial_shape(self, config: Mapping[str, Any]) -> str:
        """The shape part of a trial's name (``w2l1h0``) from its flat config."""
        ...


def short(value: Any) -> str:
    """A config value for a name (``-`` when absent)."""
    return str(value) if value is not None else "-"


def iso(moment: datetime) -> str:
    """A date as ``YYYY-MM-DD`` when it is midnight (UTC), else the full ISO time."""
    if (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0):
        return moment.date().isoformat()
    return moment.isoformat()


def check_data_kind(family: Family, data: object, fix: str) -> None:
    """Raise when ``family`` cannot train on ``data`` (what its ``check_data`` does)."""
    if not family.accepts(data):
        raise AutorecError(
            "data",
            f"a {family.name} genome needs {family.data_noun}, got {type(data).__name__}",
            fix,
        )

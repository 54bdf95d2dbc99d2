"""The purchase family (``predictor``): dated purchase histories, the soft-split paper's
network and protocol.

Training: :func:`autorec.train.train_purchases` (fitness on the month-shifted validation
protocol, test metrics from a retrain on the real one); scoring:
:func:`autorec.evaluation.evaluate_customers`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from autorec.errors import AutorecError
from autorec.families._protocol import short

if TYPE_CHECKING:
    import numpy as np
    import torch

    from autorec.data.types import EventLog
    from autorec.genome import Genome

__all__ = ["PurchaseFamily"]

#: The ``split_mode`` of eq. 3 (the plain predictor, no auto-encoder term).
_HARD_SPLIT = "predictor"


class PurchaseFamily:
    """Predictor genomes trained on purchase histories (e.g. ml-100k ratings)."""

    name = "predictor"
    data_kind = "purchases"
    depth_gene = "layers"
    nsga2_objectives: tuple[str, ...] = ("fitness", "val_pcc@10", "-n_params")
    # the test metrics come from a retrain on the real protocol, not the fitness run
    kept_weights_final = False

    def __repr__(self) -> str:
        return "PurchaseFamily()"

    # -- genome schema ------------------------------------------------------------------
    def inactive_genes(self, values: Mapping[str, Any]) -> set[str]:
        inactive: set[str] = set()
        if values.get("decay_mode") != "parametric":
            inactive.add("ti")
        hard = values.get("split_mode") == _HARD_SPLIT
        if hard:
            inactive.update(("to", "wa1", "wa0", "wp1", "wp0"))
        else:
            inactive.update(("w1", "w0"))
            if values.get("split_mode") == "equal":
                inactive.add("to")
        if values.get("loss") == "softmax":
            inactive.update(("w0", "wa0", "wp0"))
            if hard:
                inactive.add("w1")
        return inactive

    # -- data -----------------------------------------------------------------------------
    def accepts(self, data: object) -> bool:
        from autorec.data.types import PurchaseData

        return isinstance(data, PurchaseData)

    def check_data(self, data: object) -> None:
        if not self.accepts(data):
            raise AutorecError(
                "data",
                f"a predictor genome needs purchase histories, got {type(data).__name__}",
                "pass purchase data (e.g. ml-100k) or a drnn genome",
            )

    def synthesize(self, rng: np.random.Generator) -> EventLog:
        from autorec.data.synthetic import synthesize_purchases

        return synthesize_purchases(rng)

    def load_data(
        self,
        path: Any,
        split: str | None,
        *,
        seed: int = 0,
        train_windows: int = 1,
        autoencoder: bool = False,
    ) -> Any:
        from autorec.data import load_purchase_data

        return load_purchase_data(
            path, split, seed=seed, train_windows=train_windows, autoencoder=autoencoder
        )

    def dims(self, data: Any) -> dict[str, int]:
        # the larger catalogue of the validation and the real protocol (a trial trains on both)
        both = [protocol_dims(p, data.log) for p in (data.validation, data.protocol)]
        return max(both, key=lambda d: d["n_items"])

    # -- training -------------------------------------------------------------------------
    def default_accuracy(self, k: int) -> str:
        return f"precision@{k}"

    def accuracy_mismatch(self, name: str, parts: Mapping[str, str | None]) -> tuple[str, str]:
        if parts.get("pk") is not None:
            return "", ""
        return f"{name!r} is a session accuracy but the data are purchase histories", (
            "use precision@K"
        )

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
        from autorec.train import train_purchases

        return train_purchases(genome, data, options, on_epoch, device, box, init)

    def spec(self, genome: Genome, dims: Any, devices: tuple[str, ...]) -> Any:
        from autorec.models import predictor_spec

        return predictor_spec(genome, dims, devices)

    # -- search ---------------------------------------------------------------------------
    def trial_shape(self, config: Mapping[str, Any]) -> str:
        return f"L{short(config.get('layers'))}-{short(config.get('split_mode'))}"


def protocol_dims(protocol: Any, log: Any) -> dict[str, int]:
    """The sizes of a network trained on ``protocol`` (no pages)."""
    return {"n_pages": 0, "n_items": int(protocol.n_items), "n_users": len(log.users)}

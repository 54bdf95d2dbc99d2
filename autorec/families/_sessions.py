"""The session family (``drnn``): page-view sessions, the DRNN paper's network and protocol.

Training: :func:`autorec.train.train_sessions` (shortened-path prefix samples, top-1 on the
validation samples); scoring: :func:`autorec.evaluation.evaluate_sessions`.
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

__all__ = ["SessionFamily"]


class SessionFamily:
    """DRNN genomes trained on page-view sessions (e.g. yoochoose)."""

    name = "drnn"
    data_kind = "sessions"
    depth_gene = "length"
    nsga2_objectives: tuple[str, ...] = ("fitness", "-n_params")
    # the fitness run trains the network the test metrics score
    kept_weights_final = True

    def __repr__(self) -> str:
        return "SessionFamily()"

    # -- genome schema ------------------------------------------------------------------
    def inactive_genes(self, values: Mapping[str, Any]) -> set[str]:
        return set() if values.get("fnn") else {"fnn_layers", "fnn_units"}

    # -- data -----------------------------------------------------------------------------
    def accepts(self, data: object) -> bool:
        from autorec.data.types import SessionData

        return isinstance(data, SessionData)

    def check_data(self, data: object) -> None:
        if not self.accepts(data):
            raise AutorecError(
                "data",
                f"a drnn genome needs session data, got {type(data).__name__}",
                "pass page-view sessions (e.g. yoochoose) or a predictor genome",
            )

    def synthesize(self, rng: np.random.Generator) -> EventLog:
        from autorec.data.synthetic import synthesize_sessions

        return synthesize_sessions(rng)

    def load_data(
        self,
        path: Any,
        split: str | None,
        *,
        seed: int = 0,
        train_windows: int = 1,
        autoencoder: bool = False,
    ) -> Any:
        from autorec.data import load_session_data

        return load_session_data(path, split, seed=seed)  # sessions ignore the windows

    def dims(self, data: Any) -> dict[str, int]:
        log = data.split.train
        return {"n_pages": len(log.pages), "n_items": len(log.items), "n_users": len(log.users)}

    # -- training -------------------------------------------------------------------------
    def default_accuracy(self, k: int) -> str:
        return "top1"

    def accuracy_mismatch(self, name: str, parts: Mapping[str, str | None]) -> tuple[str, str]:
        if parts.get("topk") is not None:
            return "", ""
        return f"{name!r} is a purchase-history accuracy but the data are sessions", (
            "use top1 or topK"
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
        from autorec.train import train_sessions

        return train_sessions(genome, data, options, on_epoch, device, box, init)

    def spec(self, genome: Genome, dims: Any, devices: tuple[str, ...]) -> Any:
        from autorec.models import drnn_spec

        return drnn_spec(genome, dims, devices)

    # -- search ---------------------------------------------------------------------------
    def trial_shape(self, config: Mapping[str, Any]) -> str:
        return (
            f"w{short(config.get('width'))}l{short(config.get('length'))}"
            f"h{short(config.get('height'))}"
        )

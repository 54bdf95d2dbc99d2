"""The learnt time-decay curve (soft-split paper eq. 4, Figure 4) as a PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from autorec.errors import AutorecError

__all__ = ["DECAY_BINS", "DEFAULT_BIN_DAYS", "learnt_decay", "plot_decay"]

#: Soft-split paper Sec. 3.4: two years of purchase dates in 32 bins of about 22 days.
DECAY_BINS = 32
DEFAULT_BIN_DAYS = 730.0 / DECAY_BINS


def learnt_decay(model: torch.nn.Module) -> tuple[np.ndarray, float]:
    """The learnt weight of each age bin (``model.decay.bin_weight``) and the bin width in
    days (``model.decay.bin_days`` when the network defines it, else 730/32)."""
    decay = getattr(model, "decay", None)
    weight = getattr(decay, "bin_weight", None)
    if not isinstance(weight, torch.Tensor):
        raise AutorecError(
            "option --decay-plot",
            "the network has no learnt decay (decay.bin_weight)",
            "use a predictor genome with decay_mode: learnt",
        )
    raw_days = getattr(decay, "bin_days", DEFAULT_BIN_DAYS)
    days = float(raw_days.item() if isinstance(raw_days, torch.Tensor) else raw_days)
    return weight.detach().to("cpu", torch.float64).reshape(-1).numpy(), days


def plot_decay(model: torch.nn.Module, path: str | Path, *, title: str | None = None) -> Path:
    """Write the learnt decay over the age bins (x: days before the input window's end) as
    a PNG (matplotlib, Agg backend); returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    weights, days = learnt_decay(model)
    ages = (np.arange(len(weights)) + 0.5) * days
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    try:
        ax.plot(ages, weights, marker="o", color="tab:blue", label="learnt (eq. 4)")
        ax.set_xlabel("purchase age d (days before the input window ends)")
        ax.set_ylabel("learnt weight of the age bin")
        ax.set_title(title or "Learnt time decay (soft-split paper, Figure 4)")
        ax.grid(True, alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out, format="png")
    finally:
        plt.close(fig)
    return out

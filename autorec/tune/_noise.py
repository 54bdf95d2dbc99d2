"""Is the validation set large enough to tell the population apart?

After every generation the search compares the standard error of the validation accuracy,
``sqrt(a (1 - a) / n_val)`` at the population's median accuracy ``a`` over its ``n_val``
validation samples (sessions' prefix samples, or customers; binomial, conservative for
Precision@K), with the spread of the population's fitness: the standard deviation over the
better half (at least two) of the genomes that settled -- the genomes selection has to tell
apart; one failed or poor genome would otherwise inflate the spread (the first generation
of the default ml-100k predictor search settled at fitness 0.041, 0.192, 0.200, 0.207, 0.209:
a standard deviation of 0.065, but 0.0008 between its best two, against a standard error of
the accuracy of 0.036 on 49 validation customers). When the noise exceeds the spread the GA
is ranking mostly noise: the search warns once, on stderr, with both figures.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["NoiseCheck", "NoiseFigures", "noise_figures"]

_ACCURACY = re.compile(r"^val_(top\d+|precision@\d+)$")


@dataclass(frozen=True)
class NoiseFigures:
    """The standard error of the validation accuracy vs the population's fitness spread."""

    accuracy: float
    n_val: int
    stderr: float
    spread: float
    n_genomes: int

    @property
    def too_noisy(self) -> bool:
        return self.stderr > self.spread

    def message(self) -> str:
        return (
            f"warning: the validation set is too small to tell this population apart: the "
            f"standard error of the validation accuracy ({self.stderr:.4f} at accuracy "
            f"{self.accuracy:.4f} on {self.n_val} validation samples) exceeds the spread of "
            f"the population's fitness (std {self.spread:.4f} over the better half of "
            f"{self.n_genomes} genomes); "
            "the GA ranks mostly noise -- give it more validation data (a longer split, more "
            "customers or sessions)"
        )


def noise_figures(
    accuracies: Sequence[float], n_val: int, fitnesses: Sequence[float]
) -> NoiseFigures | None:
    """The figures for one generation (``None`` with fewer than two genomes or no n_val)."""
    if len(fitnesses) < 2 or not accuracies or n_val < 1:
        return None
    acc = sorted(accuracies)[len(accuracies) // 2]
    a = min(max(acc, 0.0), 1.0)
    best = sorted(fitnesses, reverse=True)[: max(2, len(fitnesses) // 2)]
    mean = sum(best) / len(best)
    spread = math.sqrt(sum((f - mean) ** 2 for f in best) / len(best))
    return NoiseFigures(
        accuracy=acc,
        n_val=n_val,
        stderr=math.sqrt(a * (1.0 - a) / n_val),
        spread=spread,
        n_genomes=len(fitnesses),
    )


class NoiseCheck:
    """``Evolution.on_generation`` hook: warns (once) when :func:`noise_figures` says the
    validation noise exceeds the population's spread. Reads the members' evaluations, whose
    ``metrics`` hold ``val_n_val`` and the validation accuracy (``val_top1`` or
    ``val_precision@K``)."""

    def __init__(self, warn: Callable[[str], None] | None = None) -> None:
        self.warn = warn or _stderr
        self.warned = False
        self.last: NoiseFigures | None = None

    def __call__(self, summary: Any) -> None:
        accs: list[float] = []
        fits: list[float] = []
        n_val = 0
        seen: set[str] = set()
        for _, ev in getattr(summary, "population", []):
            key = str(getattr(ev, "key", ""))
            if ev is None or key in seen or getattr(ev, "status", "") != "ok":
                continue
            seen.add(key)
            metrics = dict(getattr(ev, "metrics", {}) or {})
            acc = next((v for k, v in metrics.items() if _ACCURACY.match(k)), None)
            if acc is None:
                continue
            accs.append(float(acc))
            fits.append(float(ev.fitness))
            n_val = max(n_val, int(metrics.get("val_n_val", 0) or 0))
        figures = noise_figures(accs, n_val, fits)
        self.last = figures
        if figures is not None and figures.too_noisy and not self.warned:
            self.warned = True
            self.warn(figures.message())


def _stderr(message: str) -> None:
    # stderr only: a logger.warning as well printed the line twice under Ray's logging setup
    print(message, file=sys.stderr)

"""Tiny trained bundles on the built-in synthetic data, for the serve / retrain tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autorec.export import export_bundle
from autorec.genome import Genome
from autorec.train import TrainOptions
from autorec.train._trainer import train_genome
from autorec.train.saving import save_trained

DRNN = {
    "family": "drnn",
    "width": 2,
    "length": 1,
    "units_1": 8,
    "fnn": True,
    "fnn_layers": 1,
    "fnn_units": 8,
    "view_path": True,
    "batch_size": 64,
    "optimizer": "adam",
    "learning_rate": 0.01,
}
PREDICTOR = {
    "family": "predictor",
    "layers": 1,
    "units_1": 16,
    "decay_mode": "parametric",
    "batch_size": 64,
    "optimizer": "adam",
    "learning_rate": 0.01,
}


def tiny_trained_bundle(root: Path, genes: dict[str, Any]) -> Path:
    """Train ``genes`` for one epoch on (a slice of) the built-in synthetic data and export
    it; the bundle's card names the whole synthetic data set, as its catalogue is."""
    from autorec.data import load_family_data

    genome = Genome.from_dict(genes)
    data = load_family_data(genome.family, None, None)
    if genome.family == "drnn":
        data = first_sessions(data, 150)
    options = TrainOptions(max_epochs=1, seed=0, threads=1)
    result = train_genome(genome, data, options)
    assert result.model is not None, result.error
    saved = root / f"{genome.family}_saved"
    save_trained(result, saved, data={"path": None, "split": None}, options=options)
    import autorec.export._export as ex

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ex, "load_family_data", lambda *a, **k: data)
        export_bundle(saved, root / f"{genome.family}_bundle")
    return root / f"{genome.family}_bundle"


def first_sessions(data: Any, n: int) -> Any:
    from dataclasses import replace

    from autorec.data import session_samples, subset_sessions
    from autorec.data.types import SessionData

    s = data.split
    train, valid, test = (
        subset_sessions(lg, np.arange(min(m, lg.n_sessions), dtype=np.int64))
        for lg, m in ((s.train, n), (s.valid, n // 2), (s.test, n // 2))
    )
    return SessionData(
        split=replace(s, train=train, valid=valid, test=test),
        train_samples=session_samples(train),
        valid_samples=session_samples(valid),
        test_samples=session_samples(test),
        source=data.source,
    )

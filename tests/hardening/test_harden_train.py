"""Finding 13: a network whose real-protocol retraining diverged is never saved as final."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from autorec.errors import AutorecError
from autorec.genome import load_genome
from autorec.train import TrainResult
from autorec.train.saving import save_trained

REPO = Path(__file__).resolve().parents[2]


def test_save_refuses_the_validation_network_of_a_diverged_retrain(tmp_path: Path) -> None:
    genome = load_genome(REPO / "examples" / "genomes" / "predictor.yaml")
    result = TrainResult(
        key=genome.key,
        fitness=0.3,
        status="ok",  # the validation run was fine ...
        converged=True,
        epochs=3,
        val_metrics={"precision@10": 0.3},
        test_metrics={},
        loss=1.0,
        n_params=10,
        wall_s=1.0,
        model=torch.nn.Linear(2, 2),
        genome=genome,
        dims={"n_pages": 0, "n_items": 2, "n_users": 0},
        retrain_status="diverged",  # ... the retraining on the real protocol was not
    )
    with pytest.raises(AutorecError, match="retraining on the real protocol ended diverged"):
        save_trained(result, tmp_path / "saved")
    assert not (tmp_path / "saved").exists()

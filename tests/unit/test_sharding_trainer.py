"""Sharding through the real training path: ``train_genome`` with the
item layers sharded over ``("cpu", "cpu")`` and ``("cpu", "cpu", "cpu")`` gives the same
per-epoch losses and the same validation/test metrics as ``("cpu",)`` from the same seed
(tolerance 1e-5), for a tiny DRNN and a tiny predictor; a network trained sharded, saved
(``autorec train --save``) and exported loads unsharded with the same scores (1e-6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from autorec.data import (
    PurchaseData,
    SessionData,
    load_purchase_data,
    load_session_data,
    synthesize_purchases,
    synthesize_sessions,
    write_events,
)
from autorec.errors import AutorecError
from autorec.genome import Genome
from autorec.sharding import gather_logits, is_sharded
from autorec.train import TrainOptions, TrainResult, train_genome
from autorec.train import _batching as B

TOL = 1e-5

DRNN = {
    "family": "drnn", "width": 2, "length": 1, "units_1": 8, "fnn": True, "fnn_layers": 1,
    "fnn_units": 6, "view_path": True, "loss": "softmax", "l2": 1e-4, "optimizer": "adam",
    "learning_rate": 0.01, "batch_size": 64,
}  # fmt: skip
PREDICTOR = {
    "family": "predictor", "layers": 2, "units_1": 12, "units_2": 6, "split_mode": "soft",
    "wa1": 1.0, "wa0": 0.3, "wp1": 2.0, "wp0": 0.2, "to": 4.0, "l2": 1e-4,
    "optimizer": "adam", "learning_rate": 0.005, "batch_size": 64,
}  # fmt: skip


def tiny_session_file(folder: Path) -> Path:
    """A small synthetic session log (25 items) written as CSV."""
    events = synthesize_sessions(
        np.random.default_rng(0), n_sessions=240, n_items=25, n_categories=5, n_users=40, days=20
    )
    return write_events(events, folder / "sessions.csv")


def tiny_purchase_file(folder: Path) -> Path:
    """A small synthetic purchase log (about 50 items, 300 customers) written as CSV."""
    events = synthesize_purchases(
        np.random.default_rng(0), n_customers=300, n_items=50, n_categories=5, days=200
    )
    return write_events(events, folder / "purchases.csv")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sharding_trainer")
    return {"drnn": tiny_session_file(root), "predictor": tiny_purchase_file(root)}


def _data(family: str, path: Path) -> SessionData | PurchaseData:
    if family == "drnn":
        return load_session_data(path)
    return load_purchase_data(path)


def _train(genes: dict[str, Any], path: Path, devices: tuple[str, ...]) -> TrainResult:
    genome = Genome.from_dict(genes)
    opts = TrainOptions(max_epochs=3, pi=0.0, window=3, devices=devices, threads=1)
    result = train_genome(genome, _data(genome.family, path), opts)
    assert result.status in ("ok", "unsettled"), result.error
    return result


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= TOL * max(1.0, abs(a), abs(b))


@pytest.mark.parametrize("genes", [DRNN, PREDICTOR], ids=["drnn", "predictor"])
def test_train_genome_sharded_equals_unsharded(
    genes: dict[str, Any], files: dict[str, Path]
) -> None:
    path = files[str(genes["family"])]
    ref = _train(genes, path, ("cpu",))
    assert not is_sharded(ref.model)
    assert len(ref.history) == 3 and ref.test_metrics
    for devices in (("cpu", "cpu"), ("cpu", "cpu", "cpu")):
        got = _train(genes, path, devices)
        assert is_sharded(got.model)
        assert (got.status, got.epochs, got.n_params) == (ref.status, ref.epochs, ref.n_params)
        for r, g in zip(ref.history, got.history, strict=True):
            assert _close(r.train_loss, g.train_loss), (devices, r, g)
            assert _close(r.val_loss, g.val_loss), (devices, r, g)
            assert _close(r.val_accuracy, g.val_accuracy), (devices, r, g)
        assert _close(ref.fitness, got.fitness)
        for name in ("val_metrics", "test_metrics"):
            want, have = getattr(ref, name), getattr(got, name)
            assert set(want) == set(have), name
            bad = {k: (want[k], have[k]) for k in want if not _close(want[k], have[k])}
            assert not bad, (devices, name, bad)


def _batch(genome: Genome, data: SessionData | PurchaseData) -> dict[str, torch.Tensor]:
    rows = np.arange(16, dtype=np.int64)
    if isinstance(data, SessionData):
        return B.session_batch(genome, data.split.train, data.train_samples, rows)
    return B.purchase_batch(genome, data.protocol.train, rows)


@pytest.mark.parametrize("genes", [DRNN, PREDICTOR], ids=["drnn", "predictor"])
def test_sharded_save_export_loads_unsharded(
    genes: dict[str, Any], files: dict[str, Path], tmp_path: Path
) -> None:
    from autorec.export import export_bundle, load_bundle
    from autorec.train import load_saved, save_trained

    path = files[str(genes["family"])]
    genome = Genome.from_dict(genes)
    data = _data(genome.family, path)
    opts = TrainOptions(max_epochs=2, pi=0.0, window=2, devices=("cpu", "cpu"), threads=1)
    result = train_genome(genome, data, opts)
    assert result.status in ("ok", "unsettled") and is_sharded(result.model), result.error
    saved_dir = save_trained(result, tmp_path / "saved", data={"path": str(path)}, options=opts)
    assert "ShardedLinear(" not in (saved_dir / "model.py").read_text(encoding="utf-8")

    # the scores the sharded network gives (on the data the export checks too)
    test_data = data if genome.family == "drnn" else load_purchase_data(path)
    batch = _batch(genome, test_data)
    assert result.model is not None
    with torch.no_grad():
        want = gather_logits(result.model(batch))

    saved = load_saved(saved_dir)
    assert not is_sharded(saved.model)
    with torch.no_grad():
        assert torch.allclose(saved.model(batch), want, atol=1e-6, rtol=0)

    export_bundle(saved_dir, tmp_path / "bundle")
    bundle = load_bundle(tmp_path / "bundle")
    assert not is_sharded(bundle.model)
    assert torch.allclose(bundle.score(batch), want, atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    ("devices", "words"),
    [
        (("cpu", "gpu"), "unknown device 'gpu'"),
        (("cpu", "cuda:x"), "unknown device 'cuda:x'"),
        (("meta",), "not supported"),
    ],
)
def test_bad_devices_are_user_errors(devices: tuple[str, ...], words: str) -> None:
    from autorec.train._trainer import _device

    with pytest.raises(AutorecError) as err:
        _device(TrainOptions(devices=devices))
    assert "--devices" in str(err.value) and words in str(err.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only message")
def test_cuda_without_gpu_is_a_user_error() -> None:
    from autorec.train._trainer import _device

    with pytest.raises(AutorecError, match=r"--devices.*cuda:0.*CUDA is not available"):
        _device(TrainOptions(devices=("cuda:0", "cuda:1")))

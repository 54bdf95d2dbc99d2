"""``autorec train GENOME.yaml --devices cpu,cpu``: the item layers sharded over two CPU
"devices" end to end (train, metrics, ``--save``, ``evaluate``), for both families, on tiny
synthetic data; bad ``--devices`` values are one-line user errors (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from autorec.cli.app import app

GENOMES = {
    "drnn": "family: drnn\nwidth: 2\nlength: 1\nunits_1: 8\nfnn: true\nfnn_units: 6\n"
    "view_path: true\nlearning_rate: 0.01\nbatch_size: 64\n",
    "predictor": "family: predictor\nunits_1: 12\nlearning_rate: 0.005\nbatch_size: 64\n",
}


def _train(genome: Path, data: Path, devices: str, *extra: str) -> dict[str, object]:
    args = ["train", str(genome), "--data", str(data), "--epochs", "2", "--pi", "0",
            "--window", "2", "--threads", "1", "--devices", devices, "--json",
            "--no-progress", *extra]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    out: dict[str, object] = json.loads(res.stdout)
    assert out["status"] in ("ok", "unsettled"), out["error"]
    return out


@pytest.mark.parametrize("family", ["drnn", "predictor"])
def test_train_devices_cpu_cpu(family: str, data_files: dict[str, Path], tmp_path: Path) -> None:
    genome = tmp_path / "genome.yaml"
    genome.write_text(GENOMES[family], encoding="utf-8")
    one = _train(genome, data_files[family], "cpu")
    save = tmp_path / "saved"
    two = _train(genome, data_files[family], "cpu,cpu", "--save", str(save))
    assert two["test_metrics"] and two["test_metrics"] == pytest.approx(one["test_metrics"])
    assert two["loss"] == pytest.approx(one["loss"], rel=1e-5)
    # the saved folder is the unsharded network: it loads and scores on one device
    res = CliRunner().invoke(app, ["evaluate", str(save), "--json"])
    assert res.exit_code == 0, res.output
    ev = json.loads(res.stdout)
    assert ev["test_metrics"] == pytest.approx(two["test_metrics"])


@pytest.mark.parametrize(
    ("devices", "words"),
    [
        ("cpu,gpu", "unknown device 'gpu'"),
        ("cuda:x", "unknown device 'cuda:x'"),
        ("meta", "not supported"),
        (" , ", "no device"),
    ],
)
def test_bad_devices_exit_2(devices: str, words: str, tmp_path: Path) -> None:
    genome = tmp_path / "genome.yaml"
    genome.write_text(GENOMES["predictor"], encoding="utf-8")
    res = CliRunner().invoke(app, ["train", str(genome), "--devices", devices, "--json"])
    assert res.exit_code == 2, res.output
    assert "--devices" in res.stderr and words in res.stderr and "cpu" in res.stderr
    assert res.stdout == ""


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only message")
def test_cuda_without_gpu_exit_2(tmp_path: Path) -> None:
    genome = tmp_path / "genome.yaml"
    genome.write_text(GENOMES["predictor"], encoding="utf-8")
    res = CliRunner().invoke(app, ["train", str(genome), "--devices", "cuda:0,cuda:1"])
    assert res.exit_code == 2, res.output
    assert "--devices" in res.stderr and "CUDA is not available" in res.stderr
    assert "--devices cpu" in res.stderr

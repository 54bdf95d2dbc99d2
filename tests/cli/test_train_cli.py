"""``autorec train`` / ``autorec evaluate`` through typer's CliRunner on synthetic data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from autorec.cli import evaluate as evaluate_cmd
from autorec.cli import train as train_cmd

KEYS = {
    "key",
    "family",
    "status",
    "fitness",
    "converged",
    "epochs",
    "loss",
    "val_metrics",
    "test_metrics",
    "n_params",
    "wall_s",
    "cpu_s",
    "data",
    "history",
}


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("train")(train_cmd.train)
    app.command("evaluate")(evaluate_cmd.evaluate)
    return app


@pytest.fixture()
def predictor_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(
        "family: predictor\nunits_1: 16\ndecay_mode: learnt\nlearning_rate: 0.003\n"
        "batch_size: 64\n",
        encoding="utf-8",
    )
    return path


def test_train_json_save_plot_evaluate(predictor_yaml: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    save, png = tmp_path / "model", tmp_path / "decay.png"
    res = runner.invoke(
        _app(),
        [
            "train",
            str(predictor_yaml),
            "--epochs",
            "3",
            "--pi",
            "1",
            "--window",
            "2",
            "--protocol",
            "paper",
            "--json",
            "--no-progress",
            "--save",
            str(save),
            "--decay-plot",
            str(png),
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out) >= KEYS
    assert out["status"] == "ok" and out["converged"] is True and out["epochs"] == 2
    assert out["family"] == "predictor"
    assert "precision@10" in out["val_metrics"] and "precision@10" in out["test_metrics"]
    # every result says how much it rests on: the paper's protocol trains on X -> Y only
    assert out["data"]["protocol"] == "paper" and out["data"]["train_windows"] == 1
    assert out["val_metrics"]["n_val"] == out["val_metrics"]["n_customers"] > 0
    assert out["val_metrics"]["n_train_examples"] > 0 and out["n_train_final"] > 0
    assert {p.name for p in save.iterdir()} >= {
        "model.py",
        "weights.safetensors",
        "genome.yaml",
        "metrics.json",
        "train.json",
    }
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    again = runner.invoke(_app(), ["evaluate", str(save), "--json"])
    assert again.exit_code == 0, again.output
    ev = json.loads(again.stdout)
    assert ev["test_metrics"]["precision@10"] == pytest.approx(out["test_metrics"]["precision@10"])


def test_bad_option_is_a_user_error(predictor_yaml: Path) -> None:
    from autorec.errors import AutorecError

    runner = CliRunner()
    res = runner.invoke(_app(), ["train", str(predictor_yaml), "--accuracy", "top1"])
    assert isinstance(res.exception, AutorecError)
    assert "accuracy" in str(res.exception)


def test_train_autoencoder_softmax(tmp_path: Path) -> None:
    path = tmp_path / "sm.yaml"
    path.write_text(
        "family: predictor\nunits_1: 16\nloss: softmax\ninput_dropout: 0.5\ninput_norm: true\n"
        "learning_rate: 0.003\nbatch_size: 64\n",
        encoding="utf-8",
    )
    res = CliRunner().invoke(
        _app(),
        [
            "train",
            str(path),
            "--epochs",
            "2",
            "--window",
            "2",
            "--pi",
            "1",
            "--autoencoder",
            "--train-windows",
            "1",
            "--threads",
            "1",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["status"] == "ok" and out["data"]["autoencoder"] is True
    assert out["data"]["train_windows"] == 1 and out["data"]["protocol"] == "rolling"

"""``autorec train GENOME --save DIR`` writes the export bundle format (format 2: manifest,
model.py, runtime.py, item map, data card, load.py, plus train.json), which the bundle loader,
the bundle's own ``load.py`` and ``autorec evaluate`` / ``autorec export`` all read; tiny
synthetic data, both families."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from autorec.cli.app import app
from autorec.export import FORMAT_VERSION, load_bundle
from autorec.train import load_saved

GENOMES = {
    "drnn": "family: drnn\nwidth: 2\nlength: 1\nunits_1: 8\nlearning_rate: 0.01\nbatch_size: 64\n",
    "predictor": "family: predictor\nunits_1: 12\nlearning_rate: 0.005\nbatch_size: 64\n",
}


def _run(*args: str) -> str:
    res = CliRunner().invoke(app, list(args))
    assert res.exit_code == 0, res.output
    return res.stdout


def _standalone(bundle: Path) -> object:
    """The bundle's own torch-only loader (``load.py``), imported from the bundle."""
    spec = importlib.util.spec_from_file_location(f"load_{bundle.name}", bundle / "load.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load(str(bundle))  # type: ignore[attr-defined]


@pytest.mark.parametrize("family", ["drnn", "predictor"])
def test_train_save_is_a_bundle(family: str, data_files: dict[str, Path], tmp_path: Path) -> None:
    genome = tmp_path / "genome.yaml"
    genome.write_text(GENOMES[family], encoding="utf-8")
    data = str(data_files[family])
    save = tmp_path / "saved"
    out = json.loads(
        _run("train", str(genome), "--data", data, "--epochs", "2", "--pi", "0", "--window",
             "2", "--threads", "1", "--json", "--no-progress", "--save", str(save))
    )  # fmt: skip
    assert out["saved"] == str(save)

    # the export bundle format, with the training record as one more checked file
    manifest = json.loads((save / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format"] == "autorec-bundle"
    assert manifest["format_version"] == FORMAT_VERSION == 2
    assert set(manifest["files"]) >= {
        "model.py", "runtime.py", "weights.safetensors", "genome.yaml", "item_map.json",
        "metrics.json", "data_card.json", "load.py", "train.json",
    }  # fmt: skip
    assert ("page_map.json" in manifest["files"]) == (family == "drnn")
    assert {p.name for p in save.iterdir()} == set(manifest["files"]) | {"manifest.json"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".saved.")]  # no temporary

    bundle = load_bundle(save)
    assert bundle.family == family and bundle.manifest["genome_key"] == out["key"]
    card = bundle.data_card
    assert card["source"] and card["split"] == out["data"]["split"]
    assert card["catalogue_size"] == bundle.n_items == manifest["dims"]["n_items"]
    raw = np.asarray(json.loads((save / "item_map.json").read_text(encoding="utf-8")))
    assert not np.array_equal(raw, np.arange(len(raw)).astype(str))  # the data's raw item ids
    assert bundle.metrics["test_metrics"] == pytest.approx(out["test_metrics"])

    # the loader of the bundle itself and the saved-network loader score alike
    saved = load_saved(save)
    assert saved.genome.key == out["key"] and saved.info["data"]["split"] == out["data"]["split"]
    alone = _standalone(save)
    for name, value in bundle.model.state_dict().items():
        torch.testing.assert_close(saved.model.state_dict()[name], value, rtol=0, atol=0)
        torch.testing.assert_close(alone.model.state_dict()[name], value, rtol=0, atol=0)  # type: ignore[attr-defined]

    # evaluate re-scores it to the same test metrics; export copies it into a bundle
    again = json.loads(_run("evaluate", str(save), "--json"))
    assert again["test_metrics"] == pytest.approx(out["test_metrics"])
    exported = tmp_path / "bundle"
    _run("export", str(save), "--out", str(exported))
    copy = load_bundle(exported)
    assert copy.manifest["model_version"] == bundle.manifest["model_version"]
    assert list(copy.item_ids) == list(bundle.item_ids)

"""What a search keeps and shows (no Ray): the trained weights of the hall of fame,
``best_model/`` with the winner's test metrics, the comparison with the baselines on the
same split, and ``autorec export`` as a copy (no training) that says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autorec.baselines import baseline_scores, compare
from autorec.data import load_session_data
from autorec.export import export_bundle, export_plan, load_bundle
from autorec.genome import load_genome
from autorec.train import TrainOptions, train_genome
from autorec.train.saving import save_trained
from autorec.tune._checkpoints import best_model_key, finalize_best, prune_weights, weights_dir
from autorec.tune._report import build_report
from autorec.tune._rundir import RunDir

REPO = Path(__file__).resolve().parents[2]
QUICK = "popularity,itemknn,session-views"  # the GRU baselines train for a while
TINY = REPO / "examples" / "genomes" / "drnn_tiny.yaml"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A run dir as a search leaves it: config, best genome, a trial's kept weights."""
    root = tmp_path_factory.mktemp("keep") / "run"
    rd = RunDir(root)
    rd.write_config(
        {
            "space": "drnn",
            "algorithm": "elitist",
            "generations": 0,
            "data": None,
            "split": None,
            "seed": 0,
            "epochs": 2,
            "baselines": QUICK,
        }
    )
    genome = load_genome(TINY)
    data = load_session_data(None, None)
    # test=True also scores the network on the test split, for comparison below
    result = train_genome(genome, data, TrainOptions(max_epochs=2, seed=0, test=True))
    assert result.model is not None and result.test_metrics
    save_trained(result, weights_dir(root, genome.key))
    rd.write_yaml(rd.best_genome, genome.to_dict())
    rd.write_yaml(
        rd.hall_of_fame,
        [
            {
                "key": genome.key,
                "fitness": result.fitness,
                "metrics": {"loss": 1.5, "val_loss": 1.5},
                "genome": {**genome.to_dict(), "units_4": 7},
            }
        ],
    )
    said: list[str] = []
    metrics = finalize_best(root, genome, data, data_path=None, epochs=2, seed=0, say=said.append)
    return {
        "root": root,
        "genome": genome,
        "data": data,
        "result": result,
        "metrics": metrics,
        "said": said,
    }


def test_best_model_holds_the_kept_weights_scored_on_test(run: dict[str, object]) -> None:
    root = Path(str(run["root"]))
    genome = run["genome"]
    metrics = run["metrics"]
    assert isinstance(metrics, dict)
    assert best_model_key(root) == genome.key  # type: ignore[attr-defined]
    # the kept weights scored on the test split give what training with test=True gave
    want = run["result"].test_metrics  # type: ignore[attr-defined]
    assert metrics["test_metrics"] == pytest.approx(dict(want))
    assert "no training" in " ".join(run["said"])  # type: ignore[arg-type]
    a = (root / "best_model" / "weights.safetensors").read_bytes()
    b = (weights_dir(root, genome.key) / "weights.safetensors").read_bytes()  # type: ignore[attr-defined]
    assert a == b  # the trial's weights, byte for byte
    # a second call reads it back, it does not rescore
    again = finalize_best(root, genome, run["data"], data_path=None, epochs=2, seed=0)
    assert again["test_metrics"] == metrics["test_metrics"]


def test_export_copies_the_kept_network(run: dict[str, object], tmp_path: Path) -> None:
    root = Path(str(run["root"]))
    assert "copying" in export_plan(root) and "no training" in export_plan(root)
    assert "--retrain" in export_plan(root, retrain=True)
    summary = export_bundle(root, tmp_path / "bundle")
    card = summary["data_card"]
    assert "copied" in card["how"] and "no training" in card["how"]
    metrics = run["metrics"]
    assert isinstance(metrics, dict)
    assert summary["metrics"]["test_metrics"] == metrics["test_metrics"]
    bundle = load_bundle(tmp_path / "bundle")
    assert bundle.manifest["genome_key"] == run["genome"].key  # type: ignore[attr-defined]
    comp = summary["comparison"]
    assert comp["best_baseline"] in {"popularity", "itemknn", "als", "session-views"}
    assert comp["network"]["top1"] == pytest.approx(metrics["test_metrics"]["top1"])


def test_comparison_says_plainly_when_the_network_loses(run: dict[str, object]) -> None:
    data = run["data"]
    scores = baseline_scores(data, names=QUICK)
    assert {"popularity", "itemknn", "session-views"} <= set(scores)
    best = max(scores, key=lambda n: scores[n]["top1"])
    low = compare({"top1": 0.0, "top10": 0.0}, data, baselines=QUICK)
    assert low["verdict"] == "loses" and low["best_baseline"] == best
    assert f"LOSES to {best}" in low["lines"][-1]
    high = compare({"top1": 1.0, "top10": 1.0}, data, baselines=QUICK)
    assert high["verdict"] == "beats" and "beats" in high["lines"][-1]
    assert compare(None, data, baselines=QUICK)["verdict"] == "unknown"


def test_baselines_are_cached_in_the_run_dir(run: dict[str, object]) -> None:
    root = Path(str(run["root"]))
    first = baseline_scores(run["data"], cache=root, names=QUICK)
    stored = json.loads((root / "baselines.json").read_text())
    stored["scores"]["popularity"]["top1"] = -1.0  # a cached value is read, not recomputed
    (root / "baselines.json").write_text(json.dumps(stored))
    assert baseline_scores(run["data"], cache=root, names=QUICK)["popularity"]["top1"] == -1.0
    # a name not cached yet is computed and added; the cached ones are kept
    more = baseline_scores(run["data"], cache=root, names="popularity,als")
    assert more["popularity"]["top1"] == -1.0 and more["als"]["top1"] > 0
    (root / "baselines.json").unlink()
    assert baseline_scores(run["data"], cache=root, names=QUICK) == first


def test_report_shows_the_comparison_and_its_fixes(run: dict[str, object]) -> None:
    root = Path(str(run["root"]))
    metrics = run["metrics"]
    assert isinstance(metrics, dict)
    compare(metrics["test_metrics"], run["data"], genome_key="k", cache=root, baselines=QUICK)
    build_report(root)
    page = (root / "report.html").read_text()
    assert 'id="comparison"' in page and "(best baseline)" in page and 'id="verdict"' in page
    assert "built-in synthetic data" in page  # point 9: says when the data are synthetic
    assert "gene units_4" not in page and "units_4" in page  # unused gene hidden, named once
    assert "metric val_loss" not in page and "metric loss" in page  # no repeated loss


def test_prune_keeps_only_the_hall_of_fame(tmp_path: Path) -> None:
    for key in ("aaa", "bbb", "ccc"):
        (tmp_path / "weights" / key).mkdir(parents=True)
    prune_weights(tmp_path, ["bbb"])
    assert sorted(p.name for p in (tmp_path / "weights").iterdir()) == ["bbb"]


def _chromium() -> str | None:
    import shutil

    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def test_report_screenshot_shows_the_comparison(run: dict[str, object], tmp_path: Path) -> None:
    """report.html in headless Chromium: the comparison table (its network row is drawn on
    a yellow background) is on the first screen, above the plots."""
    import subprocess

    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    from PIL import Image

    root = Path(str(run["root"]))
    metrics = run["metrics"]
    assert isinstance(metrics, dict)
    compare(metrics["test_metrics"], run["data"], genome_key="k", cache=root, baselines=QUICK)
    build_report(root)
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--screenshot={shot}",
            "--window-size=1200,900",
            (root / "report.html").as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    import numpy as np

    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape == (900, 1200, 3)
    yellow = int((pixels == np.array([0xFF, 0xF4, 0xCE])).all(axis=-1).sum())
    assert yellow > 2000  # the network's row of the comparison table is on screen

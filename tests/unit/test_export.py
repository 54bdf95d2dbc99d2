"""Bundle format v1: round trip, checksums, missing files, format version, atomic replace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from _export_fixtures import ITEMS, tiny_bundle, tiny_contents

from autorec import _io as autorec_io
from autorec.errors import AutorecError
from autorec.export import FORMAT_VERSION, load_bundle, read_manifest, write_bundle
from autorec.export import _bundle as bundle_mod


def _batch() -> dict[str, torch.Tensor]:
    return {
        "x_idx": torch.tensor([0, 2, 5, 1]),
        "x_offsets": torch.tensor([0, 3]),
        "x_age": torch.tensor([1.0, 30.0, 2.0, 0.0]),
    }


def test_round_trip(tmp_path: Path) -> None:
    contents = tiny_contents(tmp_path)
    out = tmp_path / "b"
    manifest = write_bundle(contents, out)
    names = {p.name for p in out.iterdir()}
    assert names == {
        "manifest.json",
        "model.py",
        "weights.safetensors",
        "genome.yaml",
        "item_map.json",
        "metrics.json",
        "data_card.json",
        "load.py",
        "runtime.py",
    }
    assert manifest["format_version"] == FORMAT_VERSION
    assert set(manifest["files"]) == names - {"manifest.json"}
    assert manifest["model_version"].startswith("tiny0-")
    b = load_bundle(out)
    assert list(b.item_ids) == ITEMS and b.family == "predictor"
    assert b.genome["family"] == "predictor" and b.metrics["test"]["precision@10"] == 0.5
    ref = b.module.Net(n_items=6, hidden=4)
    ref.load_state_dict(dict(contents.state_dict))
    ref.eval()
    with torch.no_grad():
        torch.testing.assert_close(b.score(_batch()), ref(_batch()), rtol=0, atol=0)
    assert "import torch" in (out / "model.py").read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".b.")]  # no temp left


def test_tampered_weights(tmp_path: Path) -> None:
    out = tiny_bundle(tmp_path)
    data = bytearray((out / "weights.safetensors").read_bytes())
    data[-1] ^= 0x01
    (out / "weights.safetensors").write_bytes(bytes(data))
    with pytest.raises(AutorecError, match=r"weights\.safetensors.*sha256.*re-export"):
        load_bundle(out)


def test_missing_model_py(tmp_path: Path) -> None:
    out = tiny_bundle(tmp_path)
    (out / "model.py").unlink()
    with pytest.raises(AutorecError, match=r"model\.py is missing.*re-export"):
        load_bundle(out)


def test_newer_format_version(tmp_path: Path) -> None:
    out = tiny_bundle(tmp_path)
    m = json.loads((out / "manifest.json").read_text())
    m["format_version"] = FORMAT_VERSION + 1
    (out / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(
        AutorecError, match=rf"format {FORMAT_VERSION + 1} by a newer autorec.*upgrade autorec"
    ):
        load_bundle(out)


def test_format_1_bundle_without_runtime_still_loads(tmp_path: Path) -> None:
    """A bundle of format 1 (a self-contained model.py, no runtime.py) still loads; a format-2
    bundle whose manifest lacks runtime.py is refused naming it."""
    out = tiny_bundle(tmp_path)
    m = json.loads((out / "manifest.json").read_text())
    del m["files"]["runtime.py"]
    (out / "runtime.py").unlink()
    (out / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(AutorecError, match=r"lists no runtime\.py"):
        load_bundle(out)
    m["format_version"] = 1
    (out / "manifest.json").write_text(json.dumps(m))
    assert load_bundle(out).family == "predictor"


def test_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(AutorecError, match="no such folder"):
        load_bundle(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AutorecError, match=r"no manifest\.json"):
        read_manifest(tmp_path / "empty")


def test_replace_is_atomic_and_failure_keeps_old(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tiny_bundle(tmp_path, seed=0)
    old = read_manifest(out)
    # a second export replaces the bundle
    write_bundle(tiny_contents(tmp_path, seed=1), out)
    new = read_manifest(out)
    assert new["model_version"] != old["model_version"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".bundle.")]

    # writing fails half-way: the previous bundle stays intact and loadable, no temp left
    real = bundle_mod.write_json
    calls = {"n": 0}

    def failing(path: Path, obj: object, **kw: Any) -> Path:
        calls["n"] += 1
        if path.name == "data_card.json":
            raise OSError("disk full")
        return real(path, obj, **kw)

    monkeypatch.setattr(bundle_mod, "write_json", failing)
    with pytest.raises(OSError, match="disk full"):
        write_bundle(tiny_contents(tmp_path, seed=2), out)
    assert calls["n"] > 0
    assert read_manifest(out)["model_version"] == new["model_version"]
    load_bundle(out)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".bundle.")]


def test_replace_without_exchange(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tiny_bundle(tmp_path, seed=0)
    monkeypatch.setattr(autorec_io, "_exchange", lambda a, b: False)
    write_bundle(tiny_contents(tmp_path, seed=1), out)
    assert read_manifest(out)["genome_key"] == "tiny1"


def test_refuses_to_overwrite_a_non_bundle(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.txt").write_text("keep me")
    with pytest.raises(AutorecError, match="not an autorec bundle"):
        write_bundle(tiny_contents(tmp_path), tmp_path / "docs")
    assert (tmp_path / "docs" / "notes.txt").read_text() == "keep me"


def test_weights_that_do_not_fit(tmp_path: Path) -> None:
    out = tiny_bundle(tmp_path)
    m = json.loads((out / "manifest.json").read_text())
    m["net"]["kwargs"]["hidden"] = 5
    (out / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(AutorecError, match="does not fit"):
        load_bundle(out)

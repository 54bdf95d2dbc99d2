"""Finding 3: no trainer is named by a string, so nothing a run dir says is imported, and
the test doubles live in tests/, not in the shipped package."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from autorec.cli.app import app
from autorec.tune import SearchOptions, load_options

REPO = Path(__file__).resolve().parents[2]


def test_train_fn_in_config_yaml_is_never_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "MARKER"
    (tmp_path / "planted_trainer.py").write_text(
        f"open({str(marker)!r}, 'w').write('pwned')\ndef s(*a, **k):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    rd = tmp_path / "run"
    rd.mkdir()
    config = {**dataclasses.asdict(SearchOptions(population=3, seed=1)), "sessions": []}
    config["train_fn"] = "planted_trainer:s"  # what an older search wrote, or an attacker
    (rd / "config.yaml").write_text(yaml.safe_dump(config))
    _, opts = load_options(rd)
    assert not hasattr(opts, "train_fn")
    assert "train_fn" not in {f for f in SearchOptions.__dataclass_fields__}
    assert not marker.exists() and "planted_trainer" not in sys.modules


def test_no_hidden_train_fn_option(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["search", "--train-fn", "this:s", "--run-dir", str(tmp_path / "r")]
    )
    assert result.exit_code == 2 and "No such option" in result.output
    assert not (tmp_path / "r").exists()


def test_test_hooks_are_not_shipped() -> None:
    assert importlib.util.find_spec("autorec.tune._testing") is None
    for path in (REPO / "autorec").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "AUTOREC_FAKE" not in text, path
        assert "import_module(" not in text, f"{path} imports modules by name"

"""``autorec export`` / ``autorec recommend``: each bad bundle is one clear line and exit 2."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from _export_fixtures import tiny_bundle


@dataclass
class _Run:
    returncode: int
    stdout: str
    stderr: str


def _cli(*args: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> _Run:
    """The real console entry (``autorec.cli.app:main``, which maps AutorecError to exit 2),
    run in-process."""
    from autorec.cli.app import main

    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["autorec", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return _Run(code, out.out, out.err)


def _tamper(bundle: Path) -> None:
    data = bytearray((bundle / "weights.safetensors").read_bytes())
    data[-1] ^= 0x01
    (bundle / "weights.safetensors").write_bytes(bytes(data))


def _drop_model(bundle: Path) -> None:
    (bundle / "model.py").unlink()


def _newer(bundle: Path) -> None:
    m = json.loads((bundle / "manifest.json").read_text())
    m["format_version"] = 99
    (bundle / "manifest.json").write_text(json.dumps(m))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_tamper, "weights.safetensors"),
        (_drop_model, "model.py is missing"),
        (_newer, "format 99 by a newer autorec"),
    ],
    ids=["tampered-weights", "missing-model-py", "newer-format"],
)
def test_bad_bundle_exit_2(
    tmp_path: Path,
    damage: object,
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mp = monkeypatch
    bundle = tiny_bundle(tmp_path)
    assert callable(damage)
    damage(bundle)
    proc = _cli(
        "recommend",
        str(bundle),
        "--out",
        str(tmp_path / "recs.sqlite"),
        capsys=capsys,
        monkeypatch=mp,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not (tmp_path / "recs.sqlite").exists()


def test_export_bad_source_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    mp = monkeypatch
    proc = _cli(
        "export",
        str(tmp_path / "missing"),
        "--out",
        str(tmp_path / "b"),
        capsys=capsys,
        monkeypatch=mp,
    )
    assert proc.returncode == 2 and "no such folder" in proc.stderr
    (tmp_path / "empty").mkdir()
    proc = _cli(
        "export",
        str(tmp_path / "empty"),
        "--out",
        str(tmp_path / "b"),
        capsys=capsys,
        monkeypatch=mp,
    )
    assert proc.returncode == 2 and "neither a search run dir" in proc.stderr


def test_recommend_bad_out_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    mp = monkeypatch
    bundle = tiny_bundle(tmp_path)
    proc = _cli(
        "recommend", str(bundle), "--out", str(tmp_path / "recs.csv"), capsys=capsys, monkeypatch=mp
    )
    assert proc.returncode == 2 and "unknown output format" in proc.stderr

"""Finding 2: a bundle runs no code its manifest does not vouch for, in either loader."""

from __future__ import annotations

import importlib.util
import json
import marshal
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from _export_fixtures import tiny_bundle

from autorec.errors import AutorecError
from autorec.export import load_bundle, standalone


def _plant(marker: Path) -> str:
    return f"\nopen({str(marker)!r}, 'w').write('pwned')\n"


def _unlist(bundle: Path, name: str) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    del manifest["files"][name]
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def test_load_py_refuses_model_py_left_out_of_the_manifest(tmp_path: Path) -> None:
    bundle = tiny_bundle(tmp_path)
    marker = tmp_path / "MARKER"
    _unlist(bundle, "model.py")
    with open(bundle / "model.py", "a") as fh:
        fh.write(_plant(marker))
    proc = subprocess.run(
        [sys.executable, "-I", str(bundle / "load.py"), str(bundle), "--items", "i1", "--k", "3"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert not marker.exists()
    assert proc.returncode == 2 and "lists no model.py" in proc.stderr, proc.stderr
    with pytest.raises(AutorecError, match=r"lists no model\.py"):
        load_bundle(bundle)
    assert not marker.exists()


def test_both_loaders_refuse_an_unlisted_file(tmp_path: Path) -> None:
    bundle = tiny_bundle(tmp_path)
    (bundle / "evil.py").write_text("raise SystemExit('pwned')\n")
    with pytest.raises(standalone.BundleError, match=r"'evil\.py' is in the bundle but not"):
        standalone.load(str(bundle))
    with pytest.raises(AutorecError, match=r"'evil\.py' is in the bundle but not"):
        load_bundle(bundle)


def test_a_planted_pycache_entry_never_runs(tmp_path: Path) -> None:
    # A .pyc whose header matches model.py's mtime and size is what a path import runs
    # instead of the checked source.
    bundle = tiny_bundle(tmp_path)
    marker = tmp_path / "MARKER"
    model = bundle / "model.py"
    source = model.read_text() + _plant(marker)
    code = compile(source, str(model), "exec")
    st = model.stat()
    pyc = Path(importlib.util.cache_from_source(str(model)))
    pyc.parent.mkdir(exist_ok=True)
    header = importlib.util.MAGIC_NUMBER + (0).to_bytes(4, "little")
    header += (int(st.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little")
    header += (st.st_size & 0xFFFFFFFF).to_bytes(4, "little")
    pyc.write_bytes(header + marshal.dumps(code))
    load_bundle(bundle)
    standalone.load(str(bundle))
    assert not marker.exists()


def test_signed_bundles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(standalone.KEY_ENV, "s3cret")
    signed = tiny_bundle(tmp_path, "signed")
    load_bundle(signed)
    standalone.load(str(signed))
    monkeypatch.delenv(standalone.KEY_ENV)
    unsigned = tiny_bundle(tmp_path, "unsigned")
    load_bundle(unsigned)  # no key set: signatures are not asked for
    monkeypatch.setenv(standalone.KEY_ENV, "s3cret")
    with pytest.raises(AutorecError, match="is not signed"):
        load_bundle(unsigned)
    with pytest.raises(standalone.BundleError, match="is not signed"):
        standalone.load(str(unsigned))
    monkeypatch.setenv(standalone.KEY_ENV, "another key")
    with pytest.raises(AutorecError, match="signature does not match"):
        load_bundle(signed)

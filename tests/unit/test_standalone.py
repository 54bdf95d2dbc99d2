"""The bundle's ``load.py`` works with torch + safetensors alone: run in a subprocess whose
interpreter cannot import autorec, it verifies checksums and gives autorec's scores."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch
from _export_fixtures import tiny_bundle

from autorec.export import load_bundle

# Run ``load.py`` with ``python -I`` (no PYTHONPATH, no user site, no script dir on sys.path)
# behind an import hook that makes ``import autorec`` / ``import codegen`` fail.
GUARD = """
import importlib.abc, runpy, sys
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('autorec', 'codegen'):
            raise ImportError('autorec must not be imported by load.py: ' + name)
        return None
sys.meta_path.insert(0, _Block())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
"""


def run_standalone(bundle: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-c", GUARD, str(bundle / "load.py"), str(bundle), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin"},
    )


def test_guard_blocks_autorec(tmp_path: Path) -> None:
    script = tmp_path / "probe.py"
    script.write_text("import autorec\n")
    proc = subprocess.run(
        [sys.executable, "-I", "-c", GUARD, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0 and "must not be imported" in proc.stderr


def test_standalone_scores_match_autorec(tmp_path: Path) -> None:
    bundle = tiny_bundle(tmp_path)
    work = tmp_path / "cwd"
    work.mkdir()
    proc = run_standalone(
        bundle,
        "--items",
        "i1",
        "i4",
        "nope",
        "--ages",
        "3",
        "10",
        "1",
        "--k",
        "3",
        "--scores",
        cwd=work,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    b = load_bundle(bundle)
    ref = b.score(
        {
            "x_idx": torch.tensor([1, 4]),
            "x_offsets": torch.tensor([0]),
            "x_age": torch.tensor([3.0, 10.0]),
        }
    )[0]
    torch.testing.assert_close(torch.tensor(out["scores"]), ref, atol=1e-6, rtol=0)
    assert out["model_version"] == b.model_version
    assert len(out["top"]) == 3 and not {"i1", "i4"} & {i for i, _ in out["top"]}


def test_standalone_refuses_tampered(tmp_path: Path) -> None:
    bundle = tiny_bundle(tmp_path)
    (bundle / "item_map.json").write_text('["x"]\n')
    proc = run_standalone(bundle, "--items", "i1", cwd=tmp_path)
    assert proc.returncode == 2 and "sha256" in proc.stderr

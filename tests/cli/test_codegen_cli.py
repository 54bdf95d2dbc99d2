"""``autorec codegen GENOME.yaml``: prints the generated source, writes it with --out, JSON
summary with --json, bad input -> exit code 2."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from typer.testing import CliRunner

from autorec.cli.app import app

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "genomes"


def test_prints_source_with_given_sizes() -> None:
    result = runner.invoke(
        app, ["codegen", str(EXAMPLES / "drnn_tiny.yaml"), "--items", "9", "--pages", "11",
              "--users", "2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    ast.parse(result.stdout)
    assert "n_items=9," in result.stdout and "n_pages=11," in result.stdout
    assert "class Net(nn.Module)" in result.stdout


def test_devices_print_the_sharded_form() -> None:
    """--devices cpu,cpu prints the file of two devices: the one-device file but its DEVICES."""
    args = ["codegen", str(EXAMPLES / "drnn_large.yaml")]
    one = runner.invoke(app, args)
    two = runner.invoke(app, [*args, "--devices", "cpu,cpu"])
    assert one.exit_code == 0 and two.exit_code == 0, two.stderr
    diff = [
        b for a, b in zip(one.stdout.splitlines(), two.stdout.splitlines(), strict=True) if a != b
    ]
    assert diff == [
        'DEVICES = ("cpu", "cpu")  # devices[0] holds the network; item layers split over all'
    ]
    assert len(two.stdout.splitlines()) <= 150
    bad = runner.invoke(app, [*args, "--devices", "gpu0"])
    assert bad.exit_code == 2 and "devices" in bad.stderr


def test_writes_out_file_and_json(tmp_path: Path) -> None:
    out = tmp_path / "model.py"
    result = runner.invoke(
        app, ["codegen", str(EXAMPLES / "soft_split.yaml"), "--out", str(out), "--items", "20",
              "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["family"] == "predictor" and doc["out"] == str(out) and doc["n_items"] == 20
    assert doc["n_params"] > 0
    assert "rt.td(age, self.config.ti)" in out.read_text(encoding="utf-8")


def test_every_example_genome_renders() -> None:
    for path in sorted(EXAMPLES.glob("*.yaml")):
        result = runner.invoke(app, ["codegen", str(path), "--items", "30", "--pages", "40",
                                     "--users", "5"])  # fmt: skip
        assert result.exit_code == 0, (path, result.stderr)


def test_bad_genome_and_option_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("family: drnn\nwidth: 0\n", encoding="utf-8")
    result = runner.invoke(app, ["codegen", str(bad), "--items", "5", "--pages", "5"])
    assert result.exit_code == 2 and "width" in result.stderr
    result = runner.invoke(app, ["codegen", str(EXAMPLES / "drnn_tiny.yaml"), "--items", "0"])
    assert result.exit_code == 2 and "--items" in result.stderr

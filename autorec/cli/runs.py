"""``autorec runs [DIR]``: list the searches under a folder (default ``./autorec_runs``):
status, data, best fitness, the best network's test metric beside the best baseline's, and
age. Reads only the run dirs' files (no Ray, no torch)."""

from __future__ import annotations

import contextlib
import json
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from autorec.cli.common import JsonOption, emit_json

__all__ = ["list_runs", "runs"]


def _read_yaml(path: Path) -> Any:
    with contextlib.suppress(OSError, yaml.YAMLError):
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    return None


def _read_json(path: Path) -> Any:
    with contextlib.suppress(OSError, ValueError):
        return json.loads(path.read_text(encoding="utf-8"))
    return None


def _alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError, TypeError):
        return False
    return True


def _status(root: Path, config: dict[str, Any]) -> str:
    if (root / "DONE").is_file():
        return "finished"
    sessions = config.get("sessions") or []
    last = sessions[-1] if sessions and isinstance(sessions[-1], dict) else {}
    return "running" if _alive(last.get("pid")) else "stopped"


def _age_s(root: Path, config: dict[str, Any]) -> float:
    created = config.get("created")
    with contextlib.suppress(TypeError, ValueError):
        return time.time() - datetime.fromisoformat(str(created)).timestamp()
    return time.time() - (root / "config.yaml").stat().st_mtime


def _run_info(root: Path) -> dict[str, Any]:
    config = _read_yaml(root / "config.yaml")
    config = config if isinstance(config, dict) else {}
    hof = _read_yaml(root / "hall_of_fame.yaml")
    best = hof[0] if isinstance(hof, list) and hof and isinstance(hof[0], dict) else {}
    comp = _read_json(root / "comparison.json")
    comp = comp if isinstance(comp, dict) else {}
    metric = (comp.get("metrics") or [None])[0]
    network = dict(comp.get("network") or {})
    baseline = comp.get("best_baseline")
    baseline_value = dict((comp.get("baselines") or {}).get(baseline) or {}).get(metric)
    return {
        "run_dir": str(root),
        "status": _status(root, config),
        "space": config.get("space"),
        "data": config.get("data") or "synthetic",
        "best_fitness": best.get("fitness"),
        "best_genome_key": best.get("key"),
        "test_metric": metric,
        "test_value": network.get(metric) if metric else None,
        "best_baseline": baseline,
        "baseline_value": baseline_value,
        "verdict": comp.get("verdict"),
        "age_s": round(_age_s(root, config), 1),
    }


def list_runs(folder: str | Path) -> list[dict[str, Any]]:
    """One entry per run dir (a folder with ``config.yaml``) in ``folder`` (or ``folder``
    itself when it is one), newest first."""
    base = Path(folder)
    candidates = [base] if (base / "config.yaml").is_file() else sorted(base.iterdir())
    found = [_run_info(p.resolve()) for p in candidates if (p / "config.yaml").is_file()]
    return sorted(found, key=lambda r: float(r["age_s"]))


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _num(value: Any) -> str:
    return "-" if value is None else f"{float(value):.4f}"


def runs(
    folder: Annotated[
        Path,
        typer.Argument(metavar="DIR", help="Folder holding run dirs (or one run dir)."),
    ] = Path("autorec_runs"),
    as_json: JsonOption = False,
) -> None:
    """List past searches: status, data, best fitness, test metric vs. the best baseline,
    age."""
    from autorec.errors import AutorecError

    if not folder.is_dir():
        raise AutorecError(
            str(folder), "no such folder", "pass the folder of your run dirs (see --run-dir)"
        )
    found = list_runs(folder)
    if as_json:
        emit_json({"runs": found})
        return
    if not found:
        typer.echo(f"no run dirs (folders with config.yaml) in {folder}")
        return
    header = ("run dir", "status", "data", "best fitness", "test", "best baseline", "age")
    rows = [header]
    for r in found:
        test = f"{r['test_metric']} {_num(r['test_value'])}" if r["test_metric"] else "-"
        base = f"{r['best_baseline']} {_num(r['baseline_value'])}" if r["best_baseline"] else "-"
        if r["verdict"] == "loses":
            base += " (network loses)"
        rows.append(
            (
                os.path.relpath(r["run_dir"]),
                str(r["status"]),
                str(r["data"]),
                _num(r["best_fitness"]),
                test,
                base,
                _age(float(r["age_s"])),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())

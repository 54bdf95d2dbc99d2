"""Trial failures: the one place where a trial that went wrong becomes a record.

A genome's own outcomes, *diverged* and *unsettled* (the trainer's statuses), score fitness 0
like the DRNN paper says and are results like any other. Everything else that goes wrong in
a trial is a *failure*, status ``error``:

- the trainer raised (a trainer passed as ``train_fn``), or returned status ``error`` with
  its traceback (:func:`autorec.train.train_genome` never raises);
- the planner refused the genome (no node fits it);
- Tune gave up on the trial (its worker was lost more than ``--max-failures`` times).

:func:`failure_fields` is what the trial's final report and its record keep of one: the
message and the traceback. The trial scores fitness 0 so the search goes on, and the
search counts its failures (:attr:`autorec.tune.SearchSummary.errors`, the progress
display, the summary line, ``report.html``): a bug in batch building no longer looks like a
bad genome.

With ``AUTOREC_STRICT=1`` (the test suite's setting, ``tests/conftest.py``) a search whose
trials failed raises :class:`TrialFailed` with the first traceback instead of finishing;
a test of the failure path sets it to ``0``. It is read in the driver, so a test can turn it
off without restarting Ray.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["STRICT_ENV", "TrialFailed", "failure_fields", "raise_if_strict", "strict"]

#: ``1``: a search raises on its first failed trial instead of recording it and going on.
STRICT_ENV = "AUTOREC_STRICT"


class TrialFailed(RuntimeError):
    """Trials of a strict search failed (see the module docstring)."""


def strict() -> bool:
    """Whether ``AUTOREC_STRICT`` asks failures to raise."""
    return os.environ.get(STRICT_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def failure_fields(message: str, traceback_text: str = "") -> dict[str, Any]:
    """The entries a failed trial's final report carries: status ``error``, fitness 0, the
    one-line ``error_message`` (the traceback's last line when none is given) and the
    ``traceback``."""
    lines = [ln for ln in traceback_text.strip().splitlines() if ln.strip()]
    return {
        "status": "error",
        "fitness": 0.0,
        "error_message": message or (lines[-1].strip() if lines else "trial failed"),
        "traceback": traceback_text,
    }


def raise_if_strict(records: Sequence[Any]) -> None:
    """In a strict search (:func:`strict`), raise :class:`TrialFailed` when one of
    ``records`` (:class:`~autorec.tune.TrialRecord` or their dicts) failed."""
    if not strict():
        return
    failed = [_fields(r) for r in records]
    failed = [r for r in failed if r.get("status") == "error"]
    if not failed:
        return
    first = failed[0]
    raise TrialFailed(
        f"{len(failed)} trial(s) failed with status error ({STRICT_ENV}=1 raises instead of "
        f"scoring them 0); the first, genome {first.get('genome_key')}: "
        f"{first.get('error') or 'no message'}\n{first.get('traceback') or ''}"
    )


def _fields(record: Any) -> Mapping[str, Any]:
    return record if isinstance(record, Mapping) else dict(record.to_dict())

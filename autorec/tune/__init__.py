"""Ray Tune layer of autorec: the GA as a Tune searcher, the trainable, the run directory,
resume and the search report (docs/design.md#the-tuner). The only package besides the CLI that
imports Ray.

Names are imported on first use (PEP 562): ``autorec search``'s signature reads
:class:`SearchOptions` (Ray-free, :mod:`autorec.tune._options`) when the CLI starts, and
``autorec --help`` must not pay for importing Ray.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what __getattr__ imports on first use
    from autorec.tune._checkpoints import best_model_key
    from autorec.tune._checks import all_failed_line
    from autorec.tune._driver import (
        SearchSummary,
        build_evolution,
        load_options,
        resume_search,
        run_search,
    )
    from autorec.tune._fidelity import (
        FIDELITIES,
        RungLadder,
        RungTracker,
        rung_milestones,
        window_fitness,
    )
    from autorec.tune._options import SearchOptions, default_run_dir, train_options
    from autorec.tune._random import genome_from_sample, tune_domain, tune_param_space
    from autorec.tune._ray_local import start_ray
    from autorec.tune._report import build_report
    from autorec.tune._rundir import RunDir, atomic_write_bytes, atomic_write_text
    from autorec.tune._searcher import (
        GeneticSearcher,
        TrialRecord,
        evaluation_from_result,
        genome_config,
        genome_from_config,
    )
    from autorec.tune._trainable import (
        Trainer,
        planned_resources_fn,
        resources_for,
        run_trial,
        trial_dirname,
        trial_name,
    )

__all__ = [
    "FIDELITIES",
    "GeneticSearcher",
    "RunDir",
    "RungLadder",
    "RungTracker",
    "SearchOptions",
    "SearchSummary",
    "Trainer",
    "TrialRecord",
    "all_failed_line",
    "atomic_write_bytes",
    "atomic_write_text",
    "best_model_key",
    "build_evolution",
    "build_report",
    "default_run_dir",
    "evaluation_from_result",
    "genome_config",
    "genome_from_config",
    "genome_from_sample",
    "load_options",
    "planned_resources_fn",
    "resources_for",
    "resume_search",
    "run_search",
    "run_trial",
    "rung_milestones",
    "start_ray",
    "train_options",
    "trial_dirname",
    "trial_name",
    "tune_domain",
    "tune_param_space",
    "window_fitness",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use (module docstring)."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from autorec.tune import _options  # Ray-free: what the CLI reads when it starts

    if name in _options.__all__:
        value = getattr(_options, name)
    else:
        from autorec.tune import (
            _checkpoints,
            _checks,
            _driver,
            _fidelity,
            _random,
            _ray_local,
            _report,
            _rundir,
            _searcher,
            _trainable,
        )

        homes = [_checkpoints, _checks, _driver, _fidelity, _random, _ray_local, _report, _rundir]
        homes += [_searcher, _trainable]
        value = next(getattr(m, name) for m in homes if name in m.__all__)
    globals()[name] = value  # later lookups skip this function
    return value

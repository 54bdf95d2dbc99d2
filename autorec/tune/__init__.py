"""Ray Tune layer of autorec: the GA as a Tune searcher, the trainable, the run directory,
resume and the search report (DESIGN "The tuner"). The only package besides the CLI that
imports Ray."""

from autorec.tune._checks import all_failed_line
from autorec.tune._driver import (
    SearchOptions,
    SearchSummary,
    default_run_dir,
    load_options,
    resume_search,
    run_search,
    start_ray,
)
from autorec.tune._fidelity import FIDELITIES, RungLadder, RungTracker, rung_milestones
from autorec.tune._random import genome_from_sample, tune_domain, tune_param_space
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
    "trial_dirname",
    "trial_name",
    "tune_domain",
    "tune_param_space",
]

"""The autorec CLI with the fake trainer injected into ``search`` and ``resume``.

Run as ``python tests/support/fake_cli.py search ...``; integration tests use it to drive
the real CLI (kill -9, resume, --address) without training networks."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fake_trainer
import ray.cloudpickle

import autorec.tune


def install(trainer: autorec.tune.Trainer = fake_trainer.fake_train_genome) -> None:
    """Make the CLI's ``search`` / ``resume`` train with ``trainer``."""
    ray.cloudpickle.register_pickle_by_value(fake_trainer)
    from autorec.tune import _driver

    autorec.tune.run_search = functools.partial(_driver.run_search, train_fn=trainer)  # type: ignore[assignment]
    autorec.tune.resume_search = functools.partial(_driver.resume_search, train_fn=trainer)  # type: ignore[assignment]


if __name__ == "__main__":
    install()
    from autorec.cli.app import main

    sys.argv = ["autorec", *sys.argv[1:]]
    main()

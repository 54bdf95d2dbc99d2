"""Search progress on stderr that works everywhere.

On a terminal a rich ``Live`` panel: generation, best / mean fitness, trials running, done
out of the total, and an ETA. Anywhere else (``nohup``, CI, ``--json 2>log``) plain log
lines: one per finished trial and one per closed generation, each with the trial count,
the elapsed time and the ETA.

The total is ``population x (generations + 1)`` trials -- an upper bound, since a genome
bred twice (or found in the fitness cache) is not trained again. The ETA is the time per
trial finished so far (wall time, so parallel trials count as such) times the trials left.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["Progress", "format_duration", "progress_callback"]


def format_duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


class Progress:
    """Live progress of one search session (module docstring)."""

    def __init__(
        self,
        total_generations: int,
        population: int,
        *,
        enabled: bool = True,
        console: Console | None = None,
    ) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self.enabled = enabled
        self.total = total_generations
        self.population = population
        self.total_trials = total_generations * population
        self.generation = 0
        self.best: float | None = None
        self.mean: float | None = None
        self.running: set[str] = set()
        self.done = 0
        self.cached = 0
        self.errors = 0
        self.started = time.monotonic()
        self._live: Any = None

    def __getstate__(self) -> dict[str, Any]:
        # Tune pickles its run config (callbacks included): drop the terminal handles.
        state = dict(self.__dict__)
        state["console"] = None
        state["_live"] = None
        state["enabled"] = False
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        from rich.console import Console

        self.__dict__.update(state)
        self.console = Console(stderr=True)

    # figures -----------------------------------------------------------------------------
    @property
    def finished(self) -> int:
        """Trials with a result: trained in this session plus those from the cache."""
        return self.done + self.cached

    def eta_s(self) -> float | None:
        """Seconds left: wall time per trial trained so far times the trials left."""
        if self.done == 0:
            return None
        left = max(0, self.total_trials - self.finished)
        return (time.monotonic() - self.started) / self.done * left

    def _timing(self) -> str:
        eta = self.eta_s()
        elapsed = format_duration(time.monotonic() - self.started)
        eta_txt = "eta -" if eta is None else f"eta {format_duration(eta)}"
        return f"{elapsed} elapsed · {eta_txt}"

    def _counts(self) -> str:
        # failures (status error) are counted where they happen, never hidden in fitness 0
        errors = f" · {self.errors} failed (error)" if self.errors else ""
        return f"trials {self.finished}/{self.total_trials}{errors} · {self._timing()}"

    # display -----------------------------------------------------------------------------
    @property
    def live(self) -> bool:
        return self._live is not None

    def _line(self, text: str) -> None:
        """One plain line on the console's stream (no wrapping, no markup)."""
        if not self.enabled:
            return
        stream = self.console.file
        stream.write(text + "\n")
        stream.flush()

    def say(self, text: str) -> None:
        """A message from the search (e.g. what it does once the trials are over)."""
        if self._live is not None:
            self.console.print(text, highlight=False, markup=False)
        else:
            self._line(text)

    def render(self) -> Any:
        from rich.table import Table

        t = Table.grid(padding=(0, 2))
        best = "-" if self.best is None else f"{self.best:.4f}"
        mean = "-" if self.mean is None else f"{self.mean:.4f}"
        t.add_row(
            "[bold]autorec search[/]",
            f"generation {min(self.generation, self.total)}/{self.total}",
            f"best {best}",
            f"mean {mean}",
        )
        t.add_row(
            "",
            f"running {len(self.running)}",
            f"done {self.finished}/{self.total_trials} (errors {self.errors}, cached "
            f"{self.cached})",
            self._timing(),
        )
        return t

    def __enter__(self) -> Progress:
        if self.enabled and self.console.is_terminal:
            from rich.live import Live

            self._live = Live(
                self.render(), console=self.console, refresh_per_second=2, transient=False
            )
            self._live.__enter__()
        elif self.enabled:
            self._line(
                f"autorec search: {self.total} populations of {self.population} "
                f"(up to {self.total_trials} trials, {self.cached} from the cache)"
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self.render())
            self._live.__exit__(None, None, None)
            self._live = None

    def refresh(self) -> None:
        if self._live is not None:
            self._live.update(self.render())

    # events ------------------------------------------------------------------------------
    def trial_started(self, trial_id: str) -> None:
        self.running.add(trial_id)
        self.refresh()

    def trial_finished(self, trial_id: str, status: str, record: Any = None) -> None:
        self.running.discard(trial_id)
        self.done += 1
        if status == "error":
            self.errors += 1
        if self._live is None:
            name = getattr(record, "trial_name", "") or trial_id
            fitness = getattr(record, "fitness", None)
            wall = getattr(record, "wall_s", None)
            fit = "" if fitness is None else f" fitness {float(fitness):.4f}"
            took = "" if wall is None else f" in {format_duration(float(wall))}"
            self._line(f"trial {name} {status}{fit}{took} · {self._counts()}")
        self.refresh()

    def generation_closed(self, entry: Mapping[str, Any]) -> None:
        self.generation = int(entry["generation"]) + 1
        self.best = entry.get("best_so_far")
        self.mean = entry.get("mean_fitness")
        if self._live is None:
            best = "-" if self.best is None else f"{self.best:.4f}"
            mean = "-" if self.mean is None else f"{self.mean:.4f}"
            which = "initial population" if entry["generation"] == 0 else "generation"
            self._line(
                f"{which} {entry['generation']} ({self.generation}/{self.total}) closed: "
                f"best so far {best}, mean {mean} · {self._counts()}"
            )
        self.refresh()


def progress_callback(progress: Progress) -> Any:
    """A Tune callback keeping ``progress``'s running trials and display current (Ray is
    imported here, when a search starts)."""
    from ray.tune import Callback

    class _ProgressCallback(Callback):
        def on_trial_start(
            self, iteration: int, trials: list[Any], trial: Any, **info: Any
        ) -> None:
            progress.trial_started(trial.trial_id)

        def on_trial_complete(
            self, iteration: int, trials: list[Any], trial: Any, **info: Any
        ) -> None:
            progress.running.discard(trial.trial_id)
            progress.refresh()

        def on_trial_error(
            self, iteration: int, trials: list[Any], trial: Any, **info: Any
        ) -> None:
            progress.running.discard(trial.trial_id)
            progress.refresh()

        def on_step_end(self, iteration: int, trials: list[Any], **info: Any) -> None:
            progress.refresh()

    return _ProgressCallback()

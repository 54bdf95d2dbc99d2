"""A per-epoch progress bar on stderr (rich), shown only when ``TrainOptions.progress``."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

__all__ = ["EpochProgress"]


class EpochProgress:
    """One bar over the batches of the current epoch, one line per finished epoch."""

    def __init__(self, label: str, max_epochs: int) -> None:
        self._label = label
        self._max = max_epochs
        self._console = Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[info]}"),
            console=self._console,
            transient=True,
        )
        self._task: Any = None

    def __enter__(self) -> EpochProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def start_epoch(self, epoch: int, n_batches: int) -> None:
        desc = f"{self._label} epoch {epoch + 1}/{self._max}"
        if self._task is None:
            self._task = self._progress.add_task(desc, total=n_batches, info="")
        else:
            self._progress.reset(self._task, total=n_batches, description=desc)

    def advance(self) -> None:
        if self._task is not None:
            self._progress.advance(self._task)

    def end_epoch(self, epoch: int, train_loss: float, val_loss: float, acc: float) -> None:
        self._progress.console.print(
            f"{self._label} epoch {epoch + 1}: train loss {train_loss:.4f}  "
            f"val loss {val_loss:.4f}  val accuracy {acc:.4f}"
        )

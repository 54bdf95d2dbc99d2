"""Micro-batching: concurrent queries scored together in one forward pass.

One worker thread owns the network (torch runs one forward pass at a time, using all its
intra-op threads, instead of request threads contending for the cores). It takes the first
waiting query, then keeps collecting until ``max_batch`` queries are in hand or
``max_wait_s`` has passed since the first, and answers them all. With ``max_wait_s=0``
(the default) it takes only the queries already waiting: a lone query is never delayed,
and under load the queries that arrive while a batch is scored form the next one.
``max_batch=1`` scores every query alone. Scores do not depend on the batch a query lands in (see
:mod:`autorec.serve._model`), so batching changes latency and throughput only.

The queue is a plain thread queue and results are ``concurrent.futures`` futures, so the
batcher works under any event loop (uvicorn's, or the test client's per-request loops).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

__all__ = ["MicroBatcher"]

Q = TypeVar("Q")
A = TypeVar("A")


class MicroBatcher(Generic[Q, A]):
    """Answer queries with ``score(batch) -> answers`` on one worker thread."""

    def __init__(
        self,
        score: Callable[[Sequence[Q]], list[A]],
        *,
        max_batch: int = 32,
        max_wait_s: float = 0.0,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self._score = score
        self.max_batch = max_batch
        self.max_wait_s = max(0.0, max_wait_s)
        self._queue: queue.SimpleQueue[tuple[Q, Future[A]] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.queries = 0

    def submit(self, query: Q) -> Future[A]:
        """Queue ``query``; the future resolves to its answer (or the scoring error)."""
        future: Future[A] = Future()
        self._ensure_worker()
        self._queue.put((query, future))
        return future

    def close(self) -> None:
        """Stop the worker after the queries already queued."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=10)

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="autorec-serve-batcher", daemon=True
                )
                self._thread.start()

    def _collect(self, first: tuple[Q, Future[A]]) -> tuple[list[tuple[Q, Future[A]]], bool]:
        batch, stop = [first], False
        deadline = time.monotonic() + self.max_wait_s
        while len(batch) < self.max_batch:
            left = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                stop = True
                break
            batch.append(item)
        return batch, stop

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = self._collect(first)
            live = [(q, f) for q, f in batch if f.set_running_or_notify_cancel()]
            if live:
                self._answer(live)
            if stop:
                return

    def _answer(self, batch: list[tuple[Q, Future[A]]]) -> None:
        try:
            answers = self._score([q for q, _ in batch])
        except BaseException as err:  # the caller turns it into a 500 without details
            for _, f in batch:
                f.set_exception(err)
            return
        self.batches += 1
        self.queries += len(batch)
        for (_, f), a in zip(batch, answers, strict=True):
            f.set_result(a)

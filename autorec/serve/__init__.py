"""Serve a bundle over HTTP in real time (DRNN paper: recommendations refreshed on every
page view): ``autorec serve BUNDLE``.

- :func:`create_app`: the FastAPI app of one bundle (``POST /recommend``, ``GET /health``,
  ``GET /model``), with :class:`ServeOptions` (limits, micro-batching).
- :class:`ServedModel`: the verified bundle and its live-query scoring, bit-identical to
  ``autorec recommend``'s offline scores for the same input.
- :class:`MicroBatcher`: concurrent queries scored together in one forward pass.
"""

from autorec.serve._app import ServeOptions, create_app
from autorec.serve._batcher import MicroBatcher
from autorec.serve._model import Answer, CustomerQuery, ServedModel, SessionQuery
from autorec.serve._replay import replay_requests

__all__ = [
    "Answer",
    "CustomerQuery",
    "MicroBatcher",
    "ServeOptions",
    "ServedModel",
    "SessionQuery",
    "create_app",
    "replay_requests",
]

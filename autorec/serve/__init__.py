"""Serve a bundle over HTTP in real time (DRNN paper: recommendations refreshed on every
page view): ``autorec serve BUNDLE``.

- :func:`create_app`: the FastAPI app of one bundle (``POST /recommend``, ``GET /health``,
  ``GET /model``), with :class:`ServeOptions` (limits, micro-batching).
- :class:`ServedModel`: the verified bundle and its live-query scoring, bit-identical to
  ``autorec recommend``'s offline scores for the same input.
- :class:`MicroBatcher`: concurrent queries scored together in one forward pass.
- :func:`retrain_bundle` (``autorec retrain``): the bundle's genome retrained on new data,
  warm-started from its weights (:func:`transfer_weights`), next to a from-scratch run and
  the parent scored on the new test split.
"""

from autorec.serve._app import ServeOptions, create_app
from autorec.serve._batcher import MicroBatcher
from autorec.serve._model import Answer, CustomerQuery, ServedModel, SessionQuery
from autorec.serve._replay import replay_requests
from autorec.serve._retrain import count_new, parent_metrics, retrain_bundle
from autorec.serve._warm import TransferReport, axis_roles, transfer_weights

__all__ = [
    "Answer",
    "CustomerQuery",
    "MicroBatcher",
    "ServeOptions",
    "ServedModel",
    "SessionQuery",
    "TransferReport",
    "axis_roles",
    "count_new",
    "create_app",
    "parent_metrics",
    "replay_requests",
    "retrain_bundle",
    "transfer_weights",
]

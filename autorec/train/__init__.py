"""Training one genome with early-stopped fitness (DRNN paper Sec. IV.B and V).

``train_genome(genome, data, options)`` builds the generated network, trains it with the
genome's optimiser / rate / momentum / batch size / step decay, stops as soon as the
validation accuracy is bounded (:mod:`autorec.train.fitness`) and scores it on the test
split with the same evaluation functions the baselines use."""

from autorec.train import _batching as batching
from autorec.train._loop import Hyper, model_loss, train_epochs
from autorec.train._threads import SMALL_NETWORK_PARAMS, apply_thread_policy, threads_for
from autorec.train._trainer import (
    Init,
    count_params,
    train_genome,
    train_purchases,
    train_sessions,
)
from autorec.train._trainer import _device as primary_device
from autorec.train._types import (
    DEFAULT_MAX_EPOCHS,
    DEFAULT_PI,
    DEFAULT_WINDOW,
    EpochReport,
    Status,
    TrainOptions,
    TrainResult,
    parse_pi,
)
from autorec.train.fitness import auto_pi, fitness_value, is_bounded
from autorec.train.rankers import ModelCustomerRanker, ModelSessionRanker
from autorec.train.saving import SavedModel, load_saved, save_trained, write_saved

__all__ = [
    "DEFAULT_MAX_EPOCHS",
    "DEFAULT_PI",
    "DEFAULT_WINDOW",
    "SMALL_NETWORK_PARAMS",
    "EpochReport",
    "Hyper",
    "Init",
    "ModelCustomerRanker",
    "ModelSessionRanker",
    "SavedModel",
    "Status",
    "TrainOptions",
    "TrainResult",
    "apply_thread_policy",
    "auto_pi",
    "batching",
    "count_params",
    "fitness_value",
    "is_bounded",
    "load_saved",
    "model_loss",
    "parse_pi",
    "primary_device",
    "save_trained",
    "threads_for",
    "train_epochs",
    "train_genome",
    "train_purchases",
    "train_sessions",
    "write_saved",
]

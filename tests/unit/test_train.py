"""The trainer: seeded determinism, early stopping, divergence and the step-decay schedule.

The loop is tested with a tiny injected model and task (no code generator needed), and
``train_genome`` end to end on the built-in synthetic data with small genomes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from autorec.data.types import IntArray
from autorec.train import TrainOptions
from autorec.train._loop import Batch, Hyper, fit_model
from autorec.train.optim import make_optimizer, seed_everything, step_decay_lr


class _TinyNet(torch.nn.Module):
    def __init__(self, n_items: int, hidden: int = 8) -> None:
        super().__init__()
        self.emb = torch.nn.EmbeddingBag(n_items, hidden, mode="sum")
        self.out = torch.nn.Linear(hidden, n_items)

    def forward(self, batch: Batch) -> torch.Tensor:
        h = torch.relu(self.emb(batch["x_idx"], batch["x_offsets"]))
        out: torch.Tensor = self.out(h)
        return out

    def loss(self, batch: Batch, logits: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(logits, batch["y"])


class _TinyTask:
    """Predict item (x + 1) mod n from item x: learnable to 100% accuracy."""

    def __init__(self, n_items: int = 6, n: int = 64) -> None:
        rng = np.random.default_rng(0)
        self.n_items = n_items
        self.x = rng.integers(0, n_items, size=n)
        self.vx = np.arange(n_items)

    @property
    def n_train(self) -> int:
        return len(self.x)

    def _batch(self, x: IntArray) -> Batch:
        t = torch.as_tensor(x, dtype=torch.long)
        return {
            "x_idx": t,
            "x_offsets": torch.arange(len(t), dtype=torch.long),
            "y": (t + 1) % self.n_items,
        }

    def train_batch(self, rows: IntArray) -> Batch:
        return self._batch(self.x[rows])

    def validate(self, model: torch.nn.Module) -> tuple[float, float]:
        b = self._batch(self.vx)
        logits = model(b)
        acc = float((logits.argmax(1) == b["y"]).float().mean())
        return float(model.loss(b, logits)), acc


def _fit(hyper: Hyper, options: TrainOptions, seed: int = 0):  # type: ignore[no-untyped-def]
    gen = seed_everything(seed)
    model = _TinyNet(6)
    return fit_model(model, _TinyTask(), hyper, options, gen)


def test_seeded_runs_are_identical() -> None:
    hyper = Hyper(optimizer="sgd", learning_rate=0.3, momentum=0.5, batch_size=8)
    opts = TrainOptions(max_epochs=4, pi=0.0, window=4)
    a = _fit(hyper, opts)
    b = _fit(hyper, opts)
    assert [r.train_loss for r in a.history] == [r.train_loss for r in b.history]
    assert [r.val_loss for r in a.history] == [r.val_loss for r in b.history]
    c = _fit(hyper, opts, seed=1)
    assert [r.train_loss for r in a.history] != [r.train_loss for r in c.history]


def test_early_stopping_ends_converging_run_before_r() -> None:
    hyper = Hyper(optimizer="adam", learning_rate=0.05, momentum=0.9, batch_size=8)
    out = _fit(hyper, TrainOptions(max_epochs=100, pi=0.0, window=3))
    assert out.status == "ok" and out.converged
    assert out.epochs < 100
    assert out.accuracy == 1.0
    assert out.fitness == pytest.approx(1.0 + 1.0 / (1.0 + out.loss))


def test_huge_learning_rate_diverges_to_zero() -> None:
    hyper = Hyper(optimizer="sgd", learning_rate=1e3, momentum=0.9, batch_size=8)
    out = _fit(hyper, TrainOptions(max_epochs=50, pi=0.0, window=3))
    assert out.status == "diverged"
    assert out.fitness == 0.0
    assert out.epochs < 50


def test_step_decay_schedule() -> None:
    # DRNN paper Sec. V.D: 0.1, divided by 5 after every 100 epochs.
    assert step_decay_lr(0.1, 0, 100, 5) == pytest.approx(0.1)
    assert step_decay_lr(0.1, 99, 100, 5) == pytest.approx(0.1)
    assert step_decay_lr(0.1, 100, 100, 5) == pytest.approx(0.02)
    assert step_decay_lr(0.1, 250, 100, 5) == pytest.approx(0.004)
    assert step_decay_lr(1.0, 3, 1, 1.0) == pytest.approx(1.0)


def test_schedule_is_applied_per_epoch() -> None:
    seen: list[float] = []
    task = _TinyTask()
    model = _TinyNet(6)
    hyper = Hyper(optimizer="sgd", learning_rate=0.4, momentum=0.0, lr_step=2, lr_factor=2.0)
    from autorec.train._loop import train_epochs

    run = train_epochs(model, task, hyper, seed_everything(0))
    opt_lrs = []
    orig_step = torch.optim.SGD.step

    def spy(self: torch.optim.SGD, *a: object, **k: object) -> object:
        opt_lrs.append(self.param_groups[0]["lr"])
        return orig_step(self, *a, **k)

    torch.optim.SGD.step = spy  # type: ignore[method-assign]
    try:
        for e in range(5):
            run(e)
            seen.append(opt_lrs[-1])
    finally:
        torch.optim.SGD.step = orig_step  # type: ignore[method-assign]
    assert seen == pytest.approx([0.4, 0.4, 0.2, 0.2, 0.1])


@pytest.mark.parametrize("name", ["sgd", "nesterov", "adam"])
def test_optimizers(name: str) -> None:
    p = [torch.nn.Parameter(torch.zeros(2))]
    opt = make_optimizer(p, name, learning_rate=0.1, momentum=0.5, weight_decay=0.01)
    g = opt.param_groups[0]
    assert g["lr"] == 0.1 and g["weight_decay"] == 0.01
    if name == "adam":
        assert g["betas"][0] == 0.5
    else:
        assert g["momentum"] == 0.5 and g["nesterov"] == (name == "nesterov")


# ---- train_genome end to end on tiny synthetic data ---------------------------------------


@pytest.fixture(scope="module")
def tiny_sessions():  # type: ignore[no-untyped-def]
    from autorec.data import (
        SessionData,
        build_session_log,
        default_session_split,
        session_samples,
        split_sessions,
        synthesize_sessions,
    )

    events = synthesize_sessions(
        np.random.default_rng(0), n_sessions=240, n_items=25, n_categories=5, n_users=40, days=20
    )
    log = build_session_log(events)
    split = split_sessions(log, *default_session_split(log))
    return SessionData(
        split,
        session_samples(split.train),
        session_samples(split.valid),
        session_samples(split.test),
        "synthetic",
    )


@pytest.fixture(scope="module")
def tiny_purchases():  # type: ignore[no-untyped-def]
    from autorec.data import load_purchase_data

    return load_purchase_data(None, None, seed=0)


def _drnn(**genes: object):  # type: ignore[no-untyped-def]
    from autorec.genome import Genome

    base: dict[str, object] = {
        "family": "drnn",
        "width": 2,
        "length": 1,
        "units_1": 16,
        "view_path": True,
        "optimizer": "adam",
        "learning_rate": 0.01,
        "batch_size": 64,
    }
    base.update(genes)
    return Genome.from_dict(base)


def test_train_genome_sessions_is_seeded(tiny_sessions) -> None:  # type: ignore[no-untyped-def]
    from autorec.train import train_genome

    opts = TrainOptions(max_epochs=3, pi=0.0, window=3, test=False)
    a = train_genome(_drnn(), tiny_sessions, opts)
    b = train_genome(_drnn(), tiny_sessions, opts)
    assert a.status in ("ok", "unsettled"), a.error
    assert [r.train_loss for r in a.history] == [r.train_loss for r in b.history]
    assert [r.val_loss for r in a.history] == [r.val_loss for r in b.history]


def test_train_genome_sessions_metrics(tiny_sessions) -> None:  # type: ignore[no-untyped-def]
    from autorec.evaluation import evaluate_sessions
    from autorec.train import ModelSessionRanker, train_genome
    from autorec.train import _batching as B

    g = _drnn()
    res = train_genome(g, tiny_sessions, TrainOptions(max_epochs=30, pi=0.05, window=2))
    assert res.status == "ok" and res.converged and res.epochs < 30, res.error
    assert res.fitness == pytest.approx(res.accuracy + 1 / (1 + res.loss))
    assert set(res.test_metrics) >= {"top1", "top10", "path_compression", "n_samples"}
    # the last epoch's accuracy and the baselines' evaluation function of the final model
    # agree (res.accuracy is the mean over the bounded window, autorec.train.fitness)
    assert res.val_metrics["top1"] == pytest.approx(res.history[-1].val_accuracy)
    window = res.history[-2:]
    assert res.accuracy == pytest.approx(sum(r.val_accuracy for r in window) / 2)
    assert res.model is not None and not res.model.training
    rank = ModelSessionRanker(res.model, lambda log, s, rows: B.session_batch(g, log, s, rows))
    again = evaluate_sessions(rank, tiny_sessions.split.test, tiny_sessions.test_samples)
    assert again["top1"] == pytest.approx(res.test_metrics["top1"])
    assert res.n_params == sum(p.numel() for p in res.model.parameters())


def test_train_genome_huge_rate_diverges(tiny_sessions) -> None:  # type: ignore[no-untyped-def]
    from autorec.train import train_genome

    g = _drnn(optimizer="sgd", learning_rate=1e3, momentum=0.9)
    res = train_genome(g, tiny_sessions, TrainOptions(max_epochs=20))
    assert res.status == "diverged" and res.fitness == 0.0 and not res.converged
    assert res.epochs < 20


def test_train_genome_error_is_a_result(tiny_sessions) -> None:  # type: ignore[no-untyped-def]
    from autorec.genome import Genome
    from autorec.train import train_genome

    res = train_genome(Genome.from_dict({"family": "predictor"}), tiny_sessions)
    assert res.status == "error" and res.fitness == 0.0
    assert res.error is not None and "purchase histories" in res.error


def test_train_genome_purchases(tiny_purchases) -> None:  # type: ignore[no-untyped-def]
    from autorec.genome import Genome
    from autorec.train import train_genome

    g = Genome.from_dict(
        {"family": "predictor", "units_1": 32, "learning_rate": 0.003, "batch_size": 64}
    )
    res = train_genome(g, tiny_purchases, TrainOptions(max_epochs=4, pi=1.0, window=2))
    assert res.status == "ok", res.error
    assert res.epochs == 2
    assert res.accuracy_name == "precision@10"
    # the final model's validation precision is the last epoch's; the fitness uses the mean
    # over the bounded window (autorec.train.fitness)
    assert res.val_metrics["precision@10"] == pytest.approx(res.history[-1].val_accuracy)
    assert res.accuracy == pytest.approx(sum(r.val_accuracy for r in res.history) / 2)
    assert set(res.test_metrics) >= {"precision@10", "pcc@10", "n_customers"}
    # the returned model was retrained on the real protocol's catalogue
    assert res.dims["n_items"] == tiny_purchases.protocol.n_items


def test_train_genome_softmax_autoencoder() -> None:
    """The multinomial likelihood with input dropout trains on the auto-encoder examples."""
    from autorec.data import load_purchase_data
    from autorec.genome import Genome
    from autorec.train import train_genome

    data = load_purchase_data(None, None, seed=0, autoencoder=True)
    plain = load_purchase_data(None, None, seed=0)
    assert data.protocol.train.n_customers > plain.protocol.train.n_customers
    assert data.protocol.test.n_customers == plain.protocol.test.n_customers
    g = Genome.from_dict(
        {
            "family": "predictor",
            "units_1": 32,
            "learning_rate": 0.003,
            "batch_size": 64,
            "loss": "softmax",
            "input_dropout": 0.5,
        }
    )
    res = train_genome(g, data, TrainOptions(max_epochs=4, pi=1.0, window=2))
    assert res.status == "ok", res.error
    assert np.isfinite(res.loss) and set(res.test_metrics) >= {"precision@10"}


# ---- row-sparse item tables: lazy optimisers (autorec.train.optim) ------------------------


def _table_step(name: str, sparse: bool, momentum: float) -> torch.Tensor:
    torch.manual_seed(0)
    bag = torch.nn.EmbeddingBag(6, 3, mode="sum", sparse=sparse)
    from autorec.train.optim import row_sparse_parameters

    opt = make_optimizer(
        bag.parameters(),
        name,
        learning_rate=0.1,
        momentum=momentum,
        sparse=row_sparse_parameters(bag),
    )
    for rows in ([0, 1], [1, 2], [0, 1]):
        opt.zero_grad(set_to_none=True)
        bag(torch.tensor(rows), torch.tensor([0])).pow(2).sum().backward()  # type: ignore[no-untyped-call]
        opt.step()
    return bag.weight.detach().clone()


@pytest.mark.parametrize("name", ["sgd", "nesterov", "adam"])
def test_row_sparse_tables_get_a_lazy_optimizer(name: str) -> None:
    from autorec.train.optim import LazyAdam, LazySGD, SplitOptimizer

    torch.manual_seed(0)
    bag = torch.nn.EmbeddingBag(6, 3, sparse=True)
    lin = torch.nn.Linear(3, 2)
    model = torch.nn.ModuleDict({"bag": bag, "lin": lin})
    from autorec.train.optim import apply_step_decay, row_sparse_parameters

    assert row_sparse_parameters(model) == [bag.weight]
    opt = make_optimizer(
        model.parameters(), name, learning_rate=0.1, momentum=0.5, sparse=[bag.weight]
    )
    assert isinstance(opt, SplitOptimizer)
    lazy = LazyAdam if name == "adam" else LazySGD
    assert isinstance(opt.sparse, lazy)
    apply_step_decay(opt, 0.1, 1, 1, 2.0)  # the schedule reaches both halves
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.05]
    # untouched rows never move (rows 3..5 are never in a batch)
    before = _table_step(name, sparse=True, momentum=0.5)
    torch.manual_seed(0)
    init = torch.nn.EmbeddingBag(6, 3, mode="sum").weight.detach()
    torch.testing.assert_close(before[3:], init[3:])
    assert not torch.allclose(before[:3], init[:3])


def test_lazy_sgd_without_momentum_equals_dense_sgd() -> None:
    torch.testing.assert_close(
        _table_step("sgd", sparse=True, momentum=0.0),
        _table_step("sgd", sparse=False, momentum=0.0),
    )


def test_thread_policy_small_networks_use_one_thread() -> None:
    from autorec.train import SMALL_NETWORK_PARAMS, apply_thread_policy, threads_for

    assert threads_for(SMALL_NETWORK_PARAMS - 1, 2) == 1
    assert threads_for(SMALL_NETWORK_PARAMS, 2) == 2
    assert threads_for(10**9, None) >= 1
    was = torch.get_num_threads()
    try:
        assert apply_thread_policy(10, 4) == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(was)


def test_init_item_prior_sets_output_bias_to_target_log_odds() -> None:
    """The trainer's output-bias initialisation: each item's log-odds among the targets."""
    import numpy as np
    import torch

    from autorec.data.types import CustomerExamples
    from autorec.genome import load_genome
    from autorec.models import Dims, build_model
    from autorec.train._trainer import _init_item_prior

    genome = load_genome("examples/genomes/ml100k_predictor.yaml")
    model = build_model(genome, Dims(n_pages=0, n_items=4, n_users=3))
    ex = CustomerExamples(
        customers=np.array([0, 1, 2]),
        input_ptr=np.array([0, 1, 2, 3]),
        input_item=np.array([0, 1, 2]),
        input_age_days=np.zeros(3, dtype=np.float32),
        target_ptr=np.array([0, 2, 3, 4]),
        target_item=np.array([0, 1, 0, 3]),
    )
    _init_item_prior(model, ex, 4)
    p = (np.array([2, 1, 0, 1]) + 0.5) / 4.0  # (count + 1/2) / (customers + 1)
    assert torch.allclose(model.out.bias, torch.tensor(np.log(p / (1 - p)), dtype=torch.float32))


def test_drnn_output_bias_starts_at_the_items_prior_log_odds(tiny_sessions) -> None:  # type: ignore[no-untyped-def]
    """The DRNN's top output bias is initialised like the predictor's: each item's log-odds of
    being bought in a training sample's session (counted here by a plain loop)."""
    from autorec.models import Dims, build_model
    from autorec.train._trainer import _init_session_prior

    log, samples = tiny_sessions.split.train, tiny_sessions.train_samples
    n_items = len(log.items)
    bought = [
        set(log.buy[log.buy_ptr[s] : log.buy_ptr[s + 1]].tolist()) for s in range(log.n_sessions)
    ]
    count = np.zeros(n_items)
    for s in samples.session:
        for item in bought[s]:
            count[item] += 1
    p = (count + 0.5) / (len(samples.session) + 1)
    assert count.sum() > 0 and (count == 0).any()  # both kinds of item are checked
    model = build_model(
        _drnn(), Dims(n_pages=len(log.pages), n_items=n_items, n_users=len(log.users))
    )
    _init_session_prior(model, log, samples, n_items)
    bias = model.heads.top.bias.detach().double().numpy()
    np.testing.assert_allclose(bias, np.log(p / (1 - p)), rtol=1e-5)


def test_drnn_item_prior_gene_switches_the_initialisation(tiny_sessions) -> None:  # type: ignore[no-untyped-def]
    """item_prior: false (the default) leaves the output bias at 0, so the untrained network's
    first training loss is BCE's P * ln 2 per state; with the prior it starts far lower."""
    from autorec.train import TrainOptions, train_genome

    opts = TrainOptions(max_epochs=1, pi=math.inf, window=1, test=False)
    plain = train_genome(_drnn(loss="bce"), tiny_sessions, opts)
    prior = train_genome(_drnn(loss="bce", item_prior=True), tiny_sessions, opts)
    assert plain.status == prior.status == "ok"
    assert prior.history[0].train_loss < 0.5 * plain.history[0].train_loss

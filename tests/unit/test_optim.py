"""The lazy row-sparse optimisers (autorec.train.optim): LazyAdam has SparseAdam's arithmetic,
LazySGD lazy momentum; both on tiny tables with duplicate rows, chunked and not."""

from __future__ import annotations

import copy

import pytest
import torch

from autorec.train import optim
from autorec.train.optim import LazyAdam, LazySGD, SplitOptimizer, make_optimizer

ROWS, WIDTH = 12, 5
#: touched rows per step, with duplicates and unsorted; rows 10 and 11 are never touched
STEPS = ([3, 0, 3, 7, 1, 3], [1, 2, 9, 2], [0, 8, 7, 7, 5, 4, 6], [9, 3])


def _grad(rows: list[int], step: int, width: int = WIDTH) -> torch.Tensor:
    """An uncoalesced row-sparse gradient (as ``nn.EmbeddingBag(sparse=True)`` gives)."""
    gen = torch.Generator().manual_seed(100 + step)
    values = torch.randn(len(rows), width, generator=gen)
    return torch.sparse_coo_tensor(
        torch.tensor([rows]), values, (ROWS, width), check_invariants=True
    )


def _table() -> torch.nn.Parameter:
    return torch.nn.Parameter(torch.randn(ROWS, WIDTH, generator=torch.Generator().manual_seed(0)))


def _run(opt: torch.optim.Optimizer, p: torch.nn.Parameter, steps: tuple[list[int], ...]) -> None:
    for i, rows in enumerate(steps):
        p.grad = _grad(rows, i)
        opt.step()


@pytest.fixture(params=["whole", "chunked"])
def chunking(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every row in one chunk, or 2 rows per chunk (several chunks per step)."""
    if request.param == "chunked":
        monkeypatch.setattr(optim, "_CHUNK_ELEMENTS", 2 * WIDTH)
    return str(request.param)


@pytest.fixture(params=["fused", "ops"])
def kernel(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """torch's fused Adam kernel, or the single-op fallback (a torch without the kernel)."""
    monkeypatch.setattr(optim, "_FUSED_ADAM", {"cpu": request.param == "fused"})
    return str(request.param)


def _assert_matches_sparse_adam(lazy: LazyAdam, ref: torch.optim.SparseAdam) -> None:
    (p,) = lazy.param_groups[0]["params"]
    (q,) = ref.param_groups[0]["params"]
    torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-6)
    for key in ("exp_avg", "exp_avg_sq"):
        torch.testing.assert_close(lazy.state[p][key], ref.state[q][key], rtol=1e-6, atol=1e-6)
    assert lazy.state[p]["step"] == ref.state[q]["step"]


@pytest.mark.parametrize("eps", [1e-8, 0.1])  # 0.1: where eps goes shows
def test_lazy_adam_matches_sparse_adam(chunking: str, kernel: str, eps: float) -> None:
    p, q = _table(), _table()
    init = p.detach().clone()
    lazy = LazyAdam([p], lr=0.05, betas=(0.8, 0.99), eps=eps)
    ref = torch.optim.SparseAdam([q], lr=0.05, betas=(0.8, 0.99), eps=eps)
    _run(lazy, p, STEPS)
    _run(ref, q, STEPS)
    _assert_matches_sparse_adam(lazy, ref)
    # untouched rows never move, their moments stay zero; touched rows moved
    torch.testing.assert_close(p[10:], init[10:], rtol=0, atol=0)
    assert not lazy.state[p]["exp_avg"][10:].any()
    assert (p[:10] != init[:10]).all()


def test_lazy_adam_leaves_the_gradient_alone() -> None:
    p = _table()
    opt = LazyAdam([p], lr=0.1, weight_decay=0.1)
    grad = _grad([4, 1, 4], 0)
    p.grad = grad
    before = grad._values().clone()
    opt.step()
    assert p.grad is grad and not grad.is_coalesced()
    torch.testing.assert_close(grad._values(), before, rtol=0, atol=0)


def test_lazy_adam_distinct_sorted_rows_match_sparse_adam(chunking: str) -> None:
    """The sampled output's gradient: distinct ascending rows, not flagged coalesced."""
    steps = ([0, 2, 5, 9], [1, 2, 3], [4, 9])
    p, q = _table(), _table()
    lazy = LazyAdam([p], lr=0.05)
    ref = torch.optim.SparseAdam([q], lr=0.05)
    _run(lazy, p, steps)
    _run(ref, q, steps)
    _assert_matches_sparse_adam(lazy, ref)


def test_lazy_adam_weight_decay_is_lazy_l2(chunking: str, kernel: str) -> None:
    """``g[r] += wd * W[r]`` on the touched rows: SparseAdam fed that gradient."""
    wd = 0.3
    p, q = _table(), _table()
    lazy = LazyAdam([p], lr=0.05, weight_decay=wd)
    ref = torch.optim.SparseAdam([q], lr=0.05)
    for i, rows in enumerate(STEPS):
        p.grad = _grad(rows, i)
        lazy.step()
        g = _grad(rows, i).coalesce()
        values = g.values() + wd * q.detach()[g.indices()[0]]
        q.grad = torch.sparse_coo_tensor(g.indices(), values, g.shape, check_invariants=True)
        ref.step()
    _assert_matches_sparse_adam(lazy, ref)


def test_lazy_adam_dense_gradient_updates_every_row(kernel: str) -> None:
    """A dense gradient: SparseAdam's arithmetic on every row (= SparseAdam fed every row)."""
    p, q = _table(), _table()
    lazy = LazyAdam([p], lr=0.05, weight_decay=0.1)
    ref = torch.optim.SparseAdam([q], lr=0.05)
    for i in range(3):
        g = torch.randn(ROWS, WIDTH, generator=torch.Generator().manual_seed(i))
        p.grad = g.clone()
        lazy.step()
        q.grad = (g + 0.1 * q.detach()).to_sparse(sparse_dim=1)
        ref.step()
    _assert_matches_sparse_adam(lazy, ref)
    # a 1-d parameter too
    b = torch.nn.Parameter(torch.zeros(4))
    opt = LazyAdam([b], lr=0.1)
    b.grad = torch.tensor([1.0, -1.0, 0.0, 2.0])
    opt.step()
    torch.testing.assert_close(b.detach(), torch.tensor([-0.1, 0.1, 0.0, -0.1]))


def test_lazy_adam_state_dict_round_trip() -> None:
    p = _table()
    opt = LazyAdam([p], lr=0.05)
    _run(opt, p, STEPS[:2])
    saved, p_saved = copy.deepcopy(opt.state_dict()), p.detach().clone()
    _run(opt, p, STEPS[2:])
    q = torch.nn.Parameter(p_saved.clone())
    resumed = LazyAdam([q], lr=0.05)
    resumed.load_state_dict(saved)
    _run(resumed, q, STEPS[2:])
    torch.testing.assert_close(q, p, rtol=0, atol=0)


def test_lazy_adam_resumes_from_a_sparse_adam_state_dict() -> None:
    p, q = _table(), _table()
    ref = torch.optim.SparseAdam([q], lr=0.05)
    _run(ref, q, STEPS[:2])
    p.data.copy_(q.detach())
    lazy = LazyAdam([p], lr=0.05)
    lazy.load_state_dict(copy.deepcopy(ref.state_dict()))  # no weight_decay in its groups
    _run(lazy, p, STEPS[2:])
    _run(ref, q, STEPS[2:])
    _assert_matches_sparse_adam(lazy, ref)


def _reference_lazy_sgd(
    q: torch.Tensor, lr: float, mom: float, nesterov: bool, wd: float
) -> torch.Tensor:
    """Lazy momentum SGD written out row by row."""
    w = q.detach().clone()
    buf = torch.zeros_like(w)
    for i, rows in enumerate(STEPS):
        g = _grad(rows, i).coalesce()
        for r, gr in zip(g.indices()[0].tolist(), g.values(), strict=True):
            gr = gr + wd * w[r]
            buf[r] = mom * buf[r] + gr
            w[r] -= lr * (gr + mom * buf[r] if nesterov else buf[r])
    return w


@pytest.mark.parametrize(
    ("mom", "nesterov", "wd"), [(0.0, False, 0.0), (0.5, False, 0.1), (0.5, True, 0.0)]
)
def test_lazy_sgd_matches_its_definition(
    chunking: str, mom: float, nesterov: bool, wd: float
) -> None:
    p = _table()
    expected = _reference_lazy_sgd(p, 0.1, mom, nesterov, wd)
    opt = LazySGD([p], lr=0.1, momentum=mom, nesterov=nesterov, weight_decay=wd)
    _run(opt, p, STEPS)
    torch.testing.assert_close(p.detach(), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("nesterov", [False, True])
def test_lazy_sgd_dense_gradient_equals_torch_sgd(nesterov: bool) -> None:
    p, q = _table(), _table()
    lazy = LazySGD([p], lr=0.1, momentum=0.5, nesterov=nesterov, weight_decay=0.1)
    ref = torch.optim.SGD([q], lr=0.1, momentum=0.5, nesterov=nesterov, weight_decay=0.1)
    for i in range(3):
        g = torch.randn(ROWS, WIDTH, generator=torch.Generator().manual_seed(i))
        p.grad, q.grad = g.clone(), g.clone()
        lazy.step()
        ref.step()
    torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-6)


def test_make_optimizer_adam_with_tables_uses_lazy_adam() -> None:
    bag = torch.nn.EmbeddingBag(ROWS, WIDTH, sparse=True)
    lin = torch.nn.Linear(WIDTH, 2)
    model = torch.nn.ModuleDict({"bag": bag, "lin": lin})
    opt = make_optimizer(
        model.parameters(),
        "adam",
        learning_rate=0.01,
        momentum=0.9,
        weight_decay=0.01,
        sparse=[bag.weight],
    )
    assert isinstance(opt, SplitOptimizer) and isinstance(opt.sparse, LazyAdam)
    assert opt.sparse.param_groups[0]["weight_decay"] == 0.01
    assert opt.sparse.param_groups[0]["betas"] == (0.9, 0.999)
    assert isinstance(opt.dense, torch.optim.Adam)
    lin(bag(torch.tensor([1, 1, 3]), torch.tensor([0, 2]))).sum().backward()  # type: ignore[no-untyped-call]
    before = bag.weight.detach().clone()
    opt.step()
    moved = (bag.weight != before).any(dim=1)
    assert moved.tolist() == [i in (1, 3) for i in range(ROWS)]


def test_dense_half_uses_the_fused_kernel_where_torch_has_one() -> None:
    p = [torch.nn.Parameter(torch.zeros(3))]
    for name in ("sgd", "nesterov", "adam"):
        opt = make_optimizer(p, name, learning_rate=0.1, momentum=0.5)
        assert isinstance(opt, torch.optim.Optimizer)
        try:  # does this torch have the fused kernel on CPU?
            type(opt)(p, lr=0.1, fused=True)
        except (RuntimeError, ValueError, TypeError):
            continue
        assert opt.defaults["fused"] is True

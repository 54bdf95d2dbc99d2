"""Code generator (codegen/) and models (autorec.models): specs, rendering, generated modules,
parameter counts and the vectorised batch builders (DRNN paper Sec. III; soft-split eq. 3-9)."""

from __future__ import annotations

import ast
import math
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import codegen
from autorec.data.types import CustomerExamples, IdMap, SessionLog, SessionSamples
from autorec.errors import AutorecError
from autorec.genome import Genome
from autorec.models import (
    Dims,
    build_model,
    load_module,
    n_params,
    param_count,
    purchase_batch,
    session_batch,
    spec_for,
    user_histories,
    write_source,
)
from autorec.models.batches import history_weights
from autorec.train.optim import make_optimizer, row_sparse_parameters

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("AUTOREC_UPDATE_GOLDEN") == "1"

TINY_DRNN = codegen.DrnnSpec(
    width=2, units=(8,), height=0, activation="relu", dropout=0.0, loss="softmax", l2=0.0,
    fnn_layers=None, fnn_units=None, view_path=False, n_pages=12, n_items=7, n_users=3,
)  # fmt: skip
TINY_SOFT = codegen.PredictorSpec(
    units=(8, 6), activation="sigmoid", noise=0.1, dropout=0.2, decay_mode="learnt", ti=40.0,
    w1=1.0, w0=1.0, l2=1e-4, beta=0.1, rho=0.05, split_mode="soft", to=4.0, wa1=1.0, wa0=0.1,
    wp1=1.0, wp0=0.0, n_items=7,
)  # fmt: skip


# --------------------------------------------------------------------------- the spec / source


@pytest.mark.parametrize(
    ("spec", "name"), [(TINY_DRNN, "drnn_tiny.py"), (TINY_SOFT, "predictor_soft_tiny.py")]
)
def test_golden_source(spec: codegen.NetworkSpec, name: str) -> None:
    """The source is deterministic and equals the checked-in file (regenerate with
    AUTOREC_UPDATE_GOLDEN=1 after an intended change, then review the diff)."""
    source = codegen.render(spec)
    assert source == codegen.render(spec)
    path = GOLDEN / name
    if UPDATE:
        path.write_text(source, encoding="utf-8")
    assert source == path.read_text(encoding="utf-8")


def _imports(source: str) -> set[str]:
    mods: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            mods.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            mods.add(node.module or "")
    return mods


DRNN_VARIANTS: list[dict[str, Any]] = [
    dict(width=1, units=(8,), height=0, fnn_layers=None, fnn_units=None, view_path=False),
    dict(width=3, units=(8, 6), height=1, fnn_layers=1, fnn_units=5, view_path=True),
    dict(width=4, units=(8, 6, 5, 4), height=3, fnn_layers=3, fnn_units=5, view_path=False),
    dict(width=2, units=(8, 6, 5), height=0, fnn_layers=None, fnn_units=None, view_path=True),
]


def _all_specs() -> list[codegen.NetworkSpec]:
    specs: list[codegen.NetworkSpec] = []
    for i, v in enumerate(DRNN_VARIANTS):
        specs.append(
            replace(
                TINY_DRNN,
                dropout=0.1 * (i % 2),
                l2=1e-4 * (i % 2),
                loss=("softmax", "bce")[i % 2],
                activation=codegen.ACTIVATIONS[i],
                **v,
            )
        )
    for decay in codegen.DECAY_MODES:
        for split in codegen.SPLIT_MODES:
            specs.append(replace(TINY_SOFT, decay_mode=decay, split_mode=split, units=(8,)))
    specs.append(replace(TINY_SOFT, noise=0.0, dropout=0.0, beta=0.0, l2=0.0, wa0=0.0, wp0=0.5))
    for split in codegen.SPLIT_MODES:  # the multinomial likelihood (loss: softmax)
        specs.append(
            replace(TINY_SOFT, loss="softmax", split_mode=split, input_dropout=0.5, input_norm=True)
        )
    return specs


def _execution_variants() -> list[codegen.NetworkSpec]:
    """Every spec of _all_specs on two devices, sampled, and both; every DRNN of width > 1
    with sampled earlier states (execution fields)."""
    out: list[codegen.NetworkSpec] = []
    two = ("cpu", "cpu")
    for spec in _all_specs():
        out.append(replace(spec, devices=two))
        out.append(replace(spec, output="sampled", negatives=5))
        out.append(replace(spec, output="sampled", negatives=5, devices=two))
        if isinstance(spec, codegen.DrnnSpec) and spec.width > 1:
            out.append(replace(spec, state_negatives=5))
    return out


@pytest.mark.parametrize(
    "spec", _all_specs() + _execution_variants(), ids=lambda s: type(s).__name__
)
def test_source_compiles_and_imports_only_torch_and_the_runtime(spec: codegen.NetworkSpec) -> None:
    source = codegen.render(spec)
    compile(source, "<generated>", "exec")
    assert all(m == "torch" or m.startswith("torch.") or m == "" for m in _imports(source)), (
        _imports(source)
    )
    assert "from . import runtime as rt" in source  # the runtime beside the file, nothing else
    assert "exec(" not in source and "eval(" not in source
    # item-sized layers only through the runtime's factories (one mechanism for any k)
    assert "nn.EmbeddingBag(" not in source and "N_ITEMS" not in source
    assert "class Sharded" not in source and "def sharded_" not in source  # nothing pasted
    # the file of several devices differs from the one-device file in its DEVICES line only
    one = codegen.render(replace(spec, devices=("cpu",))).splitlines()
    diff = [a for a, b in zip(one, source.splitlines(), strict=True) if a != b]
    assert all(line.startswith("DEVICES = ") for line in diff), diff


def test_generated_source_is_ruff_clean(tmp_path: Path) -> None:
    """Every spec x {one device, two devices, sampled, both} passes ruff check and format
    (ruff comes with the dev extra; run as ``python -m ruff`` of this interpreter)."""
    for i, spec in enumerate(_all_specs() + _execution_variants()):
        (tmp_path / f"m{i}.py").write_text(codegen.render(spec), encoding="utf-8")
    for args in (
        ["check", "--no-cache", "--isolated", "--line-length", "100", "--select", "E,F,W"],
        ["format", "--check", "--no-cache", "--isolated", "--line-length", "100"],
    ):
        cmd = [sys.executable, "-m", "ruff", *args, str(tmp_path)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_drnn_large_is_short_on_one_and_two_devices() -> None:
    """examples/genomes/drnn_large.yaml renders to at most 150 lines, sharded or not."""
    from autorec.genome import load_genome

    genome = load_genome(Path(__file__).parents[2] / "examples" / "genomes" / "drnn_large.yaml")
    for dims in (Dims(300, 300, 600), Dims(14802, 14802, 0)):  # synthetic; YOOCHOOSE sample
        for devices in (("cpu",), ("cpu", "cpu")):
            source = codegen.render(spec_for(genome, dims, devices=devices))
            assert len(source.splitlines()) <= 150, (dims, devices)


def test_only_used_parts_are_emitted() -> None:
    tiny = codegen.render(replace(TINY_DRNN, width=1))
    for absent in (
        "FnnBranch",
        "ViewPath",
        "shortcuts",
        "Dropout",
        "l2=",
        "l2_penalty",
        "z.append",
        "Sampler",
        "bce",
    ):
        assert absent not in tiny, absent
    big = codegen.render(
        replace(
            TINY_DRNN,
            width=3,
            units=(8, 6),
            height=1,
            fnn_layers=2,
            fnn_units=4,
            view_path=True,
            dropout=0.1,
            l2=1e-3,
            loss="bce",
        )
    )
    for present in (
        "FnnBranch",
        "ViewPath",
        "shortcuts",
        "Dropout",
        "l2=0.001",
        "z.append",
        "rt.TrainOut(last, self.heads(",
        'loss="bce"',
        "fnn_layers=2",
    ):
        assert present in big, present
    pred = codegen.render(
        replace(TINY_SOFT, decay_mode="none", split_mode="predictor", noise=0.0, beta=0.0)
    )
    for absent in ("LearntDecay", "rt.td(", "noise", "kl_sparsity", "wa1", "to=", "Sampler"):
        assert absent not in pred, absent
    assert "w1=1.0" in pred and "w0=1.0" in pred


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"activation": "relu)\nimport os\n#"}, "activation"),
        ({"activation": "os.system"}, "activation"),
        ({"loss": "__import__('os')"}, "loss"),
        ({"units": (8, "8")}, "units[1]"),
        ({"units": (8, True)}, "units[1]"),
        ({"units": (8, 0)}, "units[1]"),
        ({"units": ()}, "units"),
        ({"width": 0}, "width"),
        ({"width": 2.0}, "width"),
        ({"height": 1}, "height"),
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": float("nan")}, "dropout"),
        ({"l2": "1e-4"}, "l2"),
        ({"view_path": 1}, "view_path"),
        ({"fnn_layers": 2}, "fnn_layers"),
        ({"n_items": np.int64(7)}, "n_items"),
    ],
)
def test_spec_rejects_bad_values(change: dict[str, Any], field: str) -> None:
    with pytest.raises(codegen.SpecError) as info:
        replace(TINY_DRNN, **change)
    assert info.value.field == field


@pytest.mark.parametrize(
    "change",
    [
        {"decay_mode": "exp"},
        {"split_mode": "hard"},
        {"rho": 1.0},
        {"ti": 0.0},
        {"to": -1.0},
        {"w1": float("inf")},
        {"noise": -0.1},
        {"activation": "gelu"},
    ],
)
def test_predictor_spec_rejects_bad_values(change: dict[str, Any]) -> None:
    with pytest.raises(codegen.SpecError):
        replace(TINY_SOFT, **change)


def test_write_source_is_atomic_and_load_module_imports(tmp_path: Path) -> None:
    path = write_source(TINY_DRNN, tmp_path / "sub" / "net.py")
    assert path.read_text(encoding="utf-8") == codegen.render(TINY_DRNN)
    assert [p.name for p in path.parent.iterdir()] == ["net.py"]  # no temporary left behind
    mod = load_module(path)
    assert load_module(path) is mod
    assert isinstance(mod.Net(), torch.nn.Module)


# --------------------------------------------------------------------------- genomes -> models

DIMS = Dims(n_pages=6, n_items=4, n_users=2)  # the hand-worked session log below


def _drnn(**genes: Any) -> Genome:
    base = dict(width=3, length=2, height=1, units_1=8, units_2=6, fnn=False, view_path=False)
    return Genome.from_dict({"family": "drnn", **base, **genes})


def _predictor(**genes: Any) -> Genome:
    base = dict(layers=2, units_1=8, units_2=6)
    return Genome.from_dict({"family": "predictor", **base, **genes})


GENOMES = {
    "drnn_tiny": _drnn(width=1, length=1, height=0),
    "drnn_large": _drnn(width=4, length=4, height=3, units_3=5, units_4=4, dropout=0.1),
    "drnn_fnn": _drnn(fnn=True, fnn_layers=2, fnn_units=5, l2=1e-4),
    "drnn_views_bce": _drnn(view_path=True, loss="bce", activation="tanh"),
    "drnn_all": _drnn(fnn=True, fnn_layers=1, fnn_units=4, view_path=True, activation="elu"),
    "pred_none": _predictor(decay_mode="none", split_mode="predictor", w0=0.2),
    "pred_param": _predictor(decay_mode="parametric", ti=40.0, noise=0.1, dropout=0.1),
    "pred_learnt": _predictor(decay_mode="learnt", beta=0.01, l2=1e-4),
    "equal": _predictor(split_mode="equal", wa0=0.1, wp0=0.0, activation="sigmoid"),
    "soft": _predictor(split_mode="soft", decay_mode="parametric", to=4.0, wa0=0.1, wp0=0.2),
    "soft_learnt": _predictor(layers=1, split_mode="soft", decay_mode="learnt", beta=0.1),
}


def _tiny_session_batch(genome: Genome) -> dict[str, torch.Tensor]:
    log, samples = _hand_log()
    rows = np.arange(len(samples.session))
    return session_batch(log, samples, rows, width=int(genome["width"]))


def _tiny_purchase_batch() -> dict[str, torch.Tensor]:
    return purchase_batch(_hand_examples(), np.arange(3))


@pytest.mark.parametrize("name", list(GENOMES))
def test_genomes_build_train_and_match_param_formula(name: str, tmp_path: Path) -> None:
    genome = GENOMES[name]
    torch.manual_seed(0)
    dims = DIMS if genome.family == "drnn" else Dims(0, 7, 0)
    model: Any = build_model(genome, dims, cache_dir=tmp_path)
    assert Path(model.source_path).parent == tmp_path
    assert Path(model.source_path).name.startswith(genome.key)
    assert n_params(model) == param_count(spec_for(genome, dims))
    batch = _tiny_session_batch(genome) if genome.family == "drnn" else _tiny_purchase_batch()
    n_rows = len(batch["target_offsets" if genome.family == "drnn" else "y_offsets"])
    # the item tables' gradients are row-sparse: Adam + SparseAdam (autorec.train.optim)
    opt = make_optimizer(
        model.parameters(),
        "adam",
        learning_rate=0.02,
        momentum=0.9,
        sparse=row_sparse_parameters(model),
    )
    model.train()
    losses = []
    for _ in range(8):
        out = model(batch)
        assert out.logits.shape == (n_rows, dims.n_items)
        loss = model.loss(batch, out)
        assert loss.dim() == 0 and math.isfinite(float(loss))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0], losses
    model.eval()
    with torch.no_grad():
        logits = model(batch)
        assert logits.shape == (n_rows, dims.n_items) and torch.isfinite(logits).all()


def test_inactive_genes_do_not_change_the_source(tmp_path: Path) -> None:
    a = _predictor(decay_mode="none", ti=10.0, split_mode="predictor", to=2.0, wa1=0.3)
    b = _predictor(decay_mode="none", ti=99.0, split_mode="predictor", to=8.0, wa1=0.9)
    assert a.key == b.key
    assert codegen.render(spec_for(a, DIMS)) == codegen.render(spec_for(b, DIMS))
    c = _drnn(fnn=False, fnn_layers=2, fnn_units=9, length=1, height=0, units_2=99)
    d = _drnn(fnn=False, fnn_layers=1, fnn_units=3, length=1, height=0, units_2=7)
    assert codegen.render(spec_for(c, DIMS)) == codegen.render(spec_for(d, DIMS))


def test_spec_errors_become_autorec_errors() -> None:
    with pytest.raises(AutorecError, match="n_items"):
        spec_for(_drnn(), Dims(n_pages=12, n_items=0, n_users=0))


def test_learnt_decay_is_a_named_parameter(tmp_path: Path) -> None:
    model: Any = build_model(GENOMES["pred_learnt"], Dims(0, 7, 0), cache_dir=tmp_path)
    params = dict(model.named_parameters())
    assert params["decay.bin_weight"].shape == (32,)
    assert model.decay.bin_days == pytest.approx(730 / 32)


def test_drnn_padding_and_history_behave(tmp_path: Path) -> None:
    """A padded state leaves the recurrence untouched: a short prefix with extra padding gives
    the same prediction at every width; an empty history is the zero state."""
    torch.manual_seed(0)
    log, samples = _hand_log()
    outs = []
    for width in (2, 5):
        g = _drnn(width=width, length=1, height=0)
        torch.manual_seed(0)
        model = build_model(g, DIMS, cache_dir=tmp_path).eval()
        batch = session_batch(log, samples, np.array([1]), width=width)  # 2 pages, no history
        with torch.no_grad():
            outs.append(model(batch))
    torch.testing.assert_close(outs[0], outs[1])


def test_parametric_decay_follows_eq5(tmp_path: Path) -> None:
    mod = load_module(
        write_source(
            replace(TINY_SOFT, decay_mode="parametric", noise=0.0, ti=40.0), tmp_path / "p.py"
        )
    )
    age = torch.tensor([0.0, 40.0, 120.0, -1.0])
    torch.testing.assert_close(mod.rt.td(age, 40.0), torch.tensor([1.0, 0.5, 0.25, 0.0]))


# --------------------------------------------------------------------------- batch builders


def _hand_log() -> tuple[SessionLog, SessionSamples]:
    """Pages 0..5 (page_item: pages 2 and 5 are category pages), items 0..3, users 0..1.

    session 0 (user 0, start 1000): pages [0, 2, 1, 0, 3], dwell [10, 0, 30, 20, 5], buys [1]
    session 1 (user 0, start 5000): pages [4, 1], dwell [5000, 7], buys [2, 2]
    session 2 (no user, start 6000): pages [5], dwell [nan], buys [0]
    """
    page = np.array([0, 2, 1, 0, 3, 4, 1, 5])
    log = SessionLog(
        session_ids=np.array(["s0", "s1", "s2"]),
        user=np.array([0, 0, -1]),
        start=np.array([1000, 5000, 6000]),
        page_ptr=np.array([0, 5, 7, 8]),
        page=page,
        view_time=np.array([1000, 1010, 1010, 1040, 1060, 5000, 10000, 6000]),
        dwell=np.array([10, 0, 30, 20, 5, 5000, 7, np.nan], dtype=np.float32),
        buy_ptr=np.array([0, 1, 3, 4]),
        buy=np.array([1, 2, 2, 0]),
        buy_time=np.array([1100, 5100, 5100, 6010]),
        pages=IdMap.from_values([f"p{i}" for i in range(6)]),
        items=IdMap.from_values([f"i{i}" for i in range(4)]),
        users=IdMap.from_values(["u0", "u1"]),
        page_item=np.array([0, 1, -1, 2, 3, -1]),
    )
    samples = SessionSamples(
        session=np.array([0, 0, 0, 0, 0, 1, 1, 2]), length=np.array([1, 2, 3, 4, 5, 1, 2, 1])
    )
    return log, samples


def test_session_batch_hand_worked() -> None:
    log, samples = _hand_log()
    b = session_batch(log, samples, np.array([4, 0, 3, 6, 7]), width=2)
    pad = 6  # n_pages
    # row 4 = s0 prefix of 5: window p3 p4 = pages 0, 3; theta(p4) = 0 (last page of the prefix)
    # row 0 = s0 prefix of 1: [pad, 0]; row 3 = s0 prefix of 4: window p2 p3 = pages 1, 0
    # row 6 = s1 prefix of 2: pages 4, 1 (dwell 5000 s clipped to 3600); row 7 = s2: [pad, 5]
    assert b["pages"].tolist() == [[0, 3], [pad, 0], [1, 0], [4, 1], [pad, 5]]
    expected_dwell = [
        [math.log1p(20), 0],
        [0, 0],
        [math.log1p(30), 0],
        [math.log1p(3600), 0],
        [0, 0],
    ]
    torch.testing.assert_close(b["dwell"], torch.tensor(expected_dwell, dtype=torch.float32))
    # history: row 4 has p0 p1 p2 = pages 0, 2, 1 with theta 10, 0, 30:
    #   eps_0 = 10 / (10 + 0 + 30) = 0.25, eps_1 = 0 / (0 + 30) = 0, eps_2 = 30 / 30 = 1
    # row 3 has p0 p1 = pages 0, 2 with theta 10, 0:
    #   eps_0 = 10 / (10 + 0) = 1, eps_1 = 0 / 0 -> guarded: 1 / (1 remaining page) = 1
    assert b["hist_idx"].tolist() == [0, 2, 1, 0, 2]
    assert b["hist_offsets"].tolist() == [0, 3, 3, 5, 5]
    torch.testing.assert_close(b["hist_weight"], torch.tensor([0.25, 0.0, 1.0, 1.0, 1.0]))
    # viewed items (page_item), with view counts over the whole prefix:
    # row 4: pages 0 2 1 0 3 -> items 0 (x2), 1, 2; row 0: item 0; row 3: items 0 (x2), 1;
    # row 6: pages 4 1 -> items 3, 1; row 7: category page only -> none
    assert b["viewed_idx"].tolist() == [0, 1, 2, 0, 0, 1, 1, 3]
    assert b["viewed_offsets"].tolist() == [0, 3, 4, 6, 8]
    assert b["viewed_weight"].tolist() == [2, 1, 1, 1, 2, 1, 1, 1]
    # targets: distinct items bought in the session (s1 bought item 2 twice)
    assert b["target_idx"].tolist() == [1, 1, 1, 2, 0]
    assert b["target_offsets"].tolist() == [0, 1, 2, 3, 4]
    # user history: only s1 (start 5000) has an earlier purchase of its user (item 1 at 1100)
    assert b["user_idx"].tolist() == [1]
    assert b["user_offsets"].tolist() == [0, 0, 0, 0, 1]
    assert b["pages"].dtype == torch.int64 and b["dwell"].dtype == torch.float32


def test_session_batch_width_covering_whole_prefix_has_no_history() -> None:
    log, samples = _hand_log()
    b = session_batch(log, samples, np.arange(8), width=5)
    assert b["hist_idx"].numel() == 0 and b["hist_offsets"].tolist() == [0] * 8
    assert b["pages"][4].tolist() == [0, 2, 1, 0, 3]


def test_user_histories_across_logs() -> None:
    log, samples = _hand_log()
    hist = user_histories(log)
    assert hist.ptr.tolist() == [0, 3, 3]  # user 0: three purchases, user 1: none
    b = session_batch(log, samples, np.array([5]), width=2, histories=hist)
    assert b["user_idx"].tolist() == [1]


def test_history_weights_follow_the_paper() -> None:
    theta = np.array([1.0, 2.0, 3.0, 4.0, 0.0, 0.0])
    eps = history_weights(theta, np.array([0, 3, 4, 4]))
    # bag 0: 1/6, 2/5, 3/3; bag 1: 4/4; bag 2 empty; bag 3: zeros -> 1/2, 1/1
    np.testing.assert_allclose(eps, [1 / 6, 2 / 5, 1.0, 1.0, 0.5, 1.0])


def _hand_examples() -> CustomerExamples:
    """Customer 0 bought items 1 (10 days before the window end) and 3 (400 days), target 2;
    customer 1 bought item 0 (1 day), targets 0 and 4; customer 2 bought 5, 5, 6, target 6."""
    return CustomerExamples(
        customers=np.array([10, 11, 12]),
        input_ptr=np.array([0, 2, 3, 6]),
        input_item=np.array([1, 3, 0, 5, 5, 6]),
        input_age_days=np.array([10, 400, 1, 3, 30, 2], dtype=np.float32),
        target_ptr=np.array([0, 1, 3, 4]),
        target_item=np.array([2, 0, 4, 6]),
    )


def test_purchase_batch_hand_worked() -> None:
    b = purchase_batch(_hand_examples(), np.array([2, 0]))
    assert b["x_idx"].tolist() == [5, 5, 6, 1, 3]
    assert b["x_offsets"].tolist() == [0, 3]
    assert b["x_age"].tolist() == [3, 30, 2, 10, 400]
    assert b["y_idx"].tolist() == [6, 2]
    assert b["y_offsets"].tolist() == [0, 1]


# --------------------------------------------------------------------------- softmax likelihood


def _softmax_module(tmp_path: Path, **change: Any) -> Any:
    spec = replace(
        TINY_SOFT,
        noise=0.0,
        dropout=0.0,
        beta=0.0,
        l2=0.0,
        decay_mode="none",
        loss="softmax",
        **change,
    )
    return load_module(write_source(spec, tmp_path / "sm.py"))


def _bags(*rows: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    idx = torch.tensor([i for r in rows for i in r], dtype=torch.long)
    offsets = torch.tensor(np.cumsum([0] + [len(r) for r in rows[:-1]]), dtype=torch.long)
    return idx, offsets


def test_softmax_cost_hand_worked(tmp_path: Path) -> None:
    # predictor mode: -sum_p (y_p / |y|) log softmax(z)_p, averaged over customers.
    # Row 0: z = 0 over 7 items, Y = {1, 3}: log 7. Row 1: z_0 = log 2, else 0 (partition 8),
    # Y = {0}: -log(2/8) = log 4. Mean: (log 7 + log 4) / 2.
    net = _softmax_module(tmp_path, split_mode="predictor").Net()
    y, y_off = _bags([1, 3], [0])
    x, x_off = _bags([2], [5])
    batch = {
        "x_idx": x,
        "x_offsets": x_off,
        "x_age": torch.zeros(2),
        "y_idx": y,
        "y_offsets": y_off,
    }
    z = torch.zeros(2, 7)
    z[1, 0] = math.log(2.0)
    expect = (math.log(7.0) + math.log(4.0)) / 2
    assert float(net.loss(batch, z)) == pytest.approx(expect, rel=1e-6)
    # equal mode: WA1 * (auto term on X) + WP1 * (predict term on Y), each target normalised.
    # Row 0 alone: 0.5 * log 7 (X = {2}) + 2 * log 7 (Y = {1, 3}).
    eq = _softmax_module(tmp_path, split_mode="equal", wa1=0.5, wp1=2.0).Net()
    one = {
        "x_idx": x[:1],
        "x_offsets": x_off[:1],
        "x_age": torch.zeros(1),
        "y_idx": y[:2],
        "y_offsets": y_off[:1],
    }
    assert float(eq.loss(one, torch.zeros(1, 7))) == pytest.approx(2.5 * math.log(7.0))
    # the same values on logits split over two shards
    from codegen.runtime import ShardedLogits, predictor_loss

    halves = ShardedLogits([z[:, :3], z[:, 3:]], [0, 3, 7], z.device)
    assert float(predictor_loss(net.config, batch, halves)) == pytest.approx(expect, rel=1e-6)


def test_softmax_soft_split_weights_x_by_output_decay(tmp_path: Path) -> None:
    # soft mode: the auto target is Td(age, TO)-weighted X, normalised: X = {2 (age 0),
    # 4 (age TO)} -> Td = 1, 1/2 -> shares 2/3, 1/3; z_2 = log 2 (partition 8), z_4 = 0.
    net = _softmax_module(tmp_path, split_mode="soft", to=4.0, wa1=1.0, wp1=0.0).Net()
    batch = {
        "x_idx": torch.tensor([2, 4]),
        "x_offsets": torch.tensor([0]),
        "x_age": torch.tensor([0.0, 4.0]),
        "y_idx": torch.tensor([1]),
        "y_offsets": torch.tensor([0]),
    }
    z = torch.zeros(1, 7)
    z[0, 2] = math.log(2.0)
    expect = -(2 / 3 * math.log(2 / 8) + 1 / 3 * math.log(1 / 8))
    assert float(net.loss(batch, z)) == pytest.approx(expect, rel=1e-6)
    source = (tmp_path / "sm.py").read_text()
    assert "wa0" not in source and "wp0" not in source


def test_softmax_and_input_dropout_absent_by_default_and_emitted_when_used(tmp_path: Path) -> None:
    plain = codegen.render(TINY_SOFT)
    assert "input_dropout" not in plain and "loss=" not in plain
    spec = replace(TINY_SOFT, noise=0.0, decay_mode="none", input_dropout=0.5)
    mod = load_module(write_source(spec, tmp_path / "d.py"))
    net = mod.Net()
    batch = {"x_age": torch.zeros(1000)}
    torch.manual_seed(0)
    net.train()
    w = net.input_weight(batch)
    assert set(w.unique().tolist()) == {0.0, 2.0}  # dropped, or kept and scaled 1 / (1 - p)
    assert 400 < int((w == 0).sum()) < 600
    net.eval()
    assert net.input_weight(batch).eq(1.0).all()


def test_sampled_softmax_trains(tmp_path: Path) -> None:
    spec = replace(TINY_SOFT, loss="softmax", split_mode="soft", output="sampled", negatives=5)
    mod = load_module(write_source(spec, tmp_path / "s.py"))
    torch.manual_seed(0)
    net = mod.Net()
    batch = purchase_batch(_hand_examples(), np.arange(3))
    net.train()
    out = net(batch)
    assert type(out.logits).__name__ == "SampledLogits"
    loss = net.loss(batch, out)
    assert torch.isfinite(loss)
    loss.backward()


def test_input_norm_divides_by_the_customers_l2_norm(tmp_path: Path) -> None:
    spec = replace(TINY_SOFT, noise=0.0, decay_mode="none", input_norm=True)
    assert "input_norm=True" in codegen.render(spec)
    assert "norm.index_add" not in codegen.render(TINY_SOFT)
    mod = load_module(write_source(spec, tmp_path / "n.py"))
    # customer 0 bought 4 products (weights 1/2 each), customer 1 one (weight 1)
    batch = {"x_age": torch.zeros(5), "x_offsets": torch.tensor([0, 4])}
    got = mod.Net().eval().input_weight(batch)
    torch.testing.assert_close(got, torch.tensor([0.5, 0.5, 0.5, 0.5, 1.0]))

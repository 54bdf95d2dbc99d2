"""Soft-split paper Sec. 3.4, Table 1 and Figure 4: the predictor with no time decay, with the
parametric decay Td(d, ti) = 1 / (1 + age / ti) (eq. 5) and with the decay learnt by the
convolutional layer over 32 age bins (eq. 4). Paper (AIV): Precision@1 0.072 / 0.075 / 0.074,
PCC@1 0.018 / 0.017 / 0.016; the learnt curve falls with age like eq. 5.

    PYTHONPATH=. python examples/reproduce/time_decay.py  # 39 min wall (shared machine)
    PYTHONPATH=. python examples/reproduce/time_decay.py --quick   # seconds

ti is chosen on the validation protocol (dates one month earlier) from a small grid, as the
paper chose its ti = 40 by hyper-parameter search. The learnt curve is drawn from
``model.decay.bin_weight`` (+ ``bin_bias``) of the networks trained on the real protocol.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

PAPER = {
    "no decay": (0.072, 0.018),
    "parametric (eq. 5)": (0.075, 0.017),
    "learnt (eq. 4, conv)": (0.074, 0.016),
}
TI_GRID = (10.0, 40.0, 160.0)


def main(argv: list[str] | None = None) -> int:
    args = c.parser(__doc__.splitlines()[0]).parse_args(argv)
    quick = bool(args.quick)
    out = c.out_dir(args)
    sec = c.section(
        "time_decay", "Soft-split paper Table 1 and Fig. 4: time decay", "time_decay.py", quick
    )
    data, label = c.ml100k_purchases(quick)
    seeds = [args.seed] if quick else [args.seed + i for i in range(3)]
    epochs = 2 if quick else 20
    grid = TI_GRID[1:2] if quick else TI_GRID

    def run(**genes: Any) -> c.Seeds:
        g = c.predictor_default(quick, **genes)
        return c.train_seeds(g, data, seeds=seeds, epochs=epochs, ks=(1,), threads=args.threads)

    by_ti = {ti: run(decay_mode="parametric", ti=ti) for ti in grid}
    val = {
        ti: float(np.mean([r.val_metrics[r.accuracy_name] for r in s.results]))
        for ti, s in by_ti.items()
    }
    ti = max(val, key=lambda t: val[t])
    res = {
        "no decay": run(),
        "parametric (eq. 5)": by_ti[ti],
        "learnt (eq. 4, conv)": run(decay_mode="learnt"),
    }
    acc_name = res["no decay"].results[0].accuracy_name
    sec.add(
        c.purchase_caption(data, label, seeds, epochs)
        + f" Predictor (eq. 3) as in `_common.predictor_default`. ti chosen by mean validation "
        f"{acc_name} over the seeds from {list(grid)}: "
        + ", ".join(f"ti = {t:g}: {v:.4f}" for t, v in val.items())
        + f" → ti = {ti:g} (paper: 40)."
    )
    rows = [
        [
            name,
            s.text("precision@1"),
            c.fmt(PAPER[name][0]),
            s.text("pcc@1", 4),
            c.fmt(PAPER[name][1]),
        ]
        for name, s in res.items()
    ]
    sec.add(c.md_table(["predictor model", "P@1", "paper P@1", "PCC@1", "paper PCC@1"], rows))
    curve = _learnt_curve(res["learnt (eq. 4, conv)"])
    span = _span_days(data)
    sec.add(f"![learnt decay](figures/{_figure(curve, ti, span, out).name})")
    sec.add(
        f"Learnt decay curve (Figure 4): bin weight + bias of each 22.8-day age bin, mean over "
        f"the seeds' networks. The inputs only reach back {span:.0f} days (bins 0–"
        f"{int(span // 22.8125)}); older bins never see a purchase and keep their initial weight."
    )
    p = {n: s.mean("precision@1") for n, s in res.items()}
    sd = max(s.sd("precision@1") for s in res.values())
    base = p["no decay"]
    better = [n for n in p if n != "no decay" and p[n] - base > sd]
    worse = [n for n in p if n != "no decay" and base - p[n] > sd]
    last = min(int(span // 22.8125), len(curve) - 1)
    falls = bool(curve[0] > curve[last])
    moved = float(np.max(np.abs(curve[: last + 1] - 1.0)))  # initial weight 1, bias 0
    # holds: both decays better beyond the noise; fails: one of them worse; else inconclusive
    holds: bool | None = True if len(better) == 2 else (False if worse else None)
    sec.add(
        c.verdict(
            holds,
            (
                f"P@1 no decay {base:.3f}, parametric {p['parametric (eq. 5)']:.3f}, learnt "
                f"{p['learnt (eq. 4, conv)']:.3f} (paper: decay slightly better, 0.072 → 0.075 / "
                f"0.074); largest seed sd {sd:.3f}, so differences below it are noise. The learnt "
                f"curve {'falls' if falls else 'does not fall'} from the newest to the oldest "
                "bin with data (paper: falls, well approximated by eq. 5), but it stays within "
                f"{moved:.2f} of its initial value 1.0, so on this data its shape says little."
            ),
        )
    )
    c.write_section(out, sec, quick)
    return 0


def _learnt_curve(s: c.Seeds) -> np.ndarray[Any, Any]:
    curves = []
    for r in s.results:
        decay: Any = r.model.get_submodule("decay")  # type: ignore[union-attr]
        w = decay.bin_weight.detach().cpu().numpy() + float(decay.bin_bias.detach().cpu())
        curves.append(w)
    mean: np.ndarray[Any, Any] = np.mean(np.stack(curves), axis=0)
    return mean


def _span_days(data: Any) -> float:
    d = data.protocol.dates
    return float((d.dyz - d.dx).days)


def _figure(curve: np.ndarray[Any, Any], ti: float, span: float, out: Path) -> Path:
    plt = c.pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    days = (np.arange(len(curve)) + 0.5) * 22.8125
    ax.plot(days, curve, "o-", label="learnt: bin_weight + bin_bias (mean over seeds)")
    td = 1.0 / (1.0 + days / ti)
    ax.plot(
        days,
        td * curve[0] / td[0],
        "--",
        color="tab:green",
        label=f"parametric Td(age, {ti:g}) (eq. 5), scaled to bin 0",
    )
    ax.axvspan(span, days[-1] + 12, color="0.9", label="no purchases this old in the data")
    ax.set_xlabel("purchase age (days before the reference day)")
    ax.set_ylabel("input weight of a purchase")
    ax.set_title("Soft-split paper Figure 4: shape of the learnt time decay")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return c.save_figure(fig, out, "time_decay")


if __name__ == "__main__":
    raise SystemExit(main())

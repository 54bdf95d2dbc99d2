"""DRNN paper Fig. 19: validation accuracy per epoch for several initial learning rates, with
and without the FNN branch. Paper: a larger rate converges sooner but to a lower accuracy; the
model without the FNN converges sooner.

    PYTHONPATH=. python examples/reproduce/convergence.py  # 39 min wall (shared machine)
    PYTHONPATH=. python examples/reproduce/convergence.py --quick   # seconds

Synthetic sessions (the FNN branch needs user ids). Every run trains a fixed number of epochs
(no early stop) so the curves are comparable; "settled at" is the first epoch at which the
trainer's stopping rule (spread of the last 3 epochs within two binomial standard errors)
would have stopped. Where the lowest rate does not end below the highest within the budget,
both are trained again for three times the epochs (:func:`longer_runs`): whether the low rate
was only slower, not better.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

from autorec.train import auto_pi, is_bounded

RATES = (0.3, 0.1, 0.03, 0.01)


def settled_at(acc: list[float], n_val: int, window: int = 3) -> int | None:
    for e in range(window, len(acc) + 1):
        if is_bounded(acc[:e], window, auto_pi(acc[e - 1], n_val)):
            return e
    return None


def main(argv: list[str] | None = None) -> int:
    args = c.parser(__doc__.splitlines()[0]).parse_args(argv)
    quick = bool(args.quick)
    out = c.out_dir(args)
    sec = c.section("convergence", "DRNN paper Fig. 19: convergence", "convergence.py", quick)
    rates = RATES[1:3] if quick else RATES
    epochs = 3 if quick else 15
    synth = c.synthetic_sessions(args.seed, quick)
    n_val = len(synth.data.valid_samples.session)
    runs: dict[tuple[bool, float], dict[str, Any]] = {}
    for fnn in (False, True):
        for lr in rates:
            g = c.drnn_default(quick, fnn=fnn, learning_rate=lr)
            r = c.train(
                g, synth.data, epochs=epochs, seed=args.seed, threads=args.threads, fixed=True
            )
            acc = [h.val_accuracy for h in r.history]
            runs[(fnn, lr)] = {
                "acc": acc,
                "settled": settled_at(acc, n_val),
                "test": r.test_metrics,
            }
            print(f"fnn={fnn} lr={lr}: val {acc[-1]:.3f}", flush=True)
    sec.add(
        f"Validation top-1 per epoch on {synth.label} (generated data with returning users; "
        f"{n_val} validation prefixes), the paper's Table I defaults scaled "
        f"(`_common.drnn_default`: SGD, momentum 0.9, rate ÷5 every 100 epochs) with the initial "
        f"rate varied, {epochs} epochs each, seed {args.seed}."
    )
    rows = []
    for fnn in (False, True):
        for lr in rates:
            x = runs[(fnn, lr)]
            rows.append(
                [
                    "with FNN" if fnn else "without FNN",
                    f"{lr:g}",
                    str(x["settled"]) if x["settled"] else f"> {epochs}",
                    c.fmt(x["acc"][-1]),
                    c.fmt(max(x["acc"])),
                    c.fmt(x["test"].get("top1")),
                ]
            )
    sec.add(
        c.md_table(
            [
                "model",
                "initial rate",
                "settled at epoch",
                "final val top-1",
                "best val top-1",
                "test top-1",
            ],
            rows,
        )
    )
    sec.add(f"![convergence](figures/{_figure(runs, rates, epochs, out).name})")
    sec.add(_verdict(runs, rates, epochs, n_val))
    longer = longer_runs(runs, rates, epochs, n_val, synth, args, quick)
    sec.add(_cause(runs, longer, rates, epochs, n_val))
    c.write_section(out, sec, quick)
    return 0


def _verdict(
    runs: dict[tuple[bool, float], dict[str, Any]],
    rates: tuple[float, ...],
    epochs: int,
    n_val: int,
) -> str:
    """Highest vs lowest rate for each model, the accuracy gap against two binomial standard
    errors of the validation set, and whether the model without the FNN settles sooner."""

    def settle(fnn: bool, lr: float) -> int:
        s = runs[(fnn, lr)]["settled"]
        return int(s) if s else epochs + 1

    hi, lo = rates[0], rates[-1]
    parts, sooner, lower, unclear = [], [], [], []
    for fnn in (False, True):
        a_hi, a_lo = runs[(fnn, hi)]["acc"][-1], runs[(fnn, lo)]["acc"][-1]
        two_se = auto_pi(0.5 * (a_hi + a_lo), n_val)  # two binomial standard errors
        sooner.append(settle(fnn, hi) <= settle(fnn, lo))
        lower.append(not _not_lower(runs, fnn, hi, lo, n_val))
        unclear.append(abs(a_lo - a_hi) <= two_se)
        parts.append(
            f"{'with' if fnn else 'without'} FNN, rate {hi:g} vs {lo:g}: settles at epoch "
            f"{settle(fnn, hi)} vs {settle(fnn, lo)}, final top-1 {a_hi:.3f} vs {a_lo:.3f} "
            f"(2 SE = {two_se:.3f})"
        )
    n_sooner = sum(settle(False, r) <= settle(True, r) for r in rates)
    text = (
        "; ".join(parts)
        + f". Paper: a larger rate settles sooner and ends lower. Without the FNN the model "
        f"settles as soon or sooner at {n_sooner} of {len(rates)} rates (paper Sec. V.D: "
        "sooner; its Sec. V.B says the FNN does not affect the convergence rate)."
    )
    holds: bool | None = all(sooner) and all(lower) and n_sooner > len(rates) / 2
    if not holds and all(sooner) and any(unclear):
        holds = None
    return c.verdict(holds, text)


def _not_lower(
    runs: dict[tuple[bool, float], dict[str, Any]], fnn: bool, hi: float, lo: float, n_val: int
) -> bool:
    a_hi, a_lo = runs[(fnn, hi)]["acc"][-1], runs[(fnn, lo)]["acc"][-1]
    return a_lo - a_hi <= auto_pi(0.5 * (a_hi + a_lo), n_val)


def longer_runs(
    runs: dict[tuple[bool, float], dict[str, Any]],
    rates: tuple[float, ...],
    epochs: int,
    n_val: int,
    synth: Any,
    args: Any,
    quick: bool,
) -> dict[tuple[bool, float], list[float]]:
    """The highest and lowest rate of each model whose lowest rate did not end above the
    highest, trained again (same seed) for 3x ``epochs``: validation top-1 per epoch."""
    hi, lo = rates[0], rates[-1]
    out: dict[tuple[bool, float], list[float]] = {}
    for fnn in (False, True):
        if not _not_lower(runs, fnn, hi, lo, n_val):
            continue
        for lr in (hi, lo):
            g = c.drnn_default(quick, fnn=fnn, learning_rate=lr)
            r = c.train(
                g, synth.data, epochs=3 * epochs, seed=args.seed, threads=args.threads, fixed=True
            )
            out[(fnn, lr)] = [h.val_accuracy for h in r.history]
            print(f"fnn={fnn} lr={lr} x3 epochs: val {out[(fnn, lr)][-1]:.3f}", flush=True)
    return out


def _jitter(acc: Sequence[float]) -> float:
    """Mean absolute change of the validation accuracy from one epoch to the next, after
    the first three epochs (the climb): how noisy the curve the stopping rule reads is."""
    tail = list(acc[3:]) if len(acc) > 4 else list(acc)
    steps = [abs(b - a) for a, b in itertools.pairwise(tail)]
    return sum(steps) / len(steps) if steps else 0.0


def _cause(
    runs: dict[tuple[bool, float], dict[str, Any]],
    longer: dict[tuple[bool, float], list[float]],
    rates: tuple[float, ...],
    epochs: int,
    n_val: int,
) -> str:
    """Why the rule settles when it does (each curve's epoch-to-epoch noise against π), and,
    where the lowest rate did not end below the highest, where 3x longer runs end."""
    hi, lo = rates[0], rates[-1]
    parts = []
    for fnn in (False, True):
        name = "with FNN" if fnn else "without FNN"
        acc_hi, acc_lo = runs[(fnn, hi)]["acc"], runs[(fnn, lo)]["acc"]
        pi = auto_pi(acc_hi[-1], n_val)
        parts.append(
            f"{name}: the validation top-1 moves by {_jitter(acc_hi):.3f} per epoch on average "
            f"at rate {hi:g} and by {_jitter(acc_lo):.3f} at rate {lo:g}, against π ≈ "
            f"{pi:.3f} (noise and climb together; three epochs must lie within π for the rule "
            "to settle)"
        )
        if (fnn, lo) not in longer:
            continue
        climb = acc_lo[-1] - acc_lo[-4] if len(acc_lo) >= 4 else acc_lo[-1] - acc_lo[0]
        a_hi, a_lo = longer[(fnn, hi)][-1], longer[(fnn, lo)][-1]
        best = max(longer[(fnn, lo)])
        word = "ends below" if a_lo > a_hi else "does not end below"
        parts.append(
            f"{name}: at epoch {epochs} the rate-{lo:g} curve moved {climb:+.3f} over its last "
            f"three epochs, still climbing; trained {3 * epochs} epochs, rate {hi:g} ends at "
            f"{a_hi:.3f} and rate {lo:g} at {a_lo:.3f} (best {best:.3f}), so the larger rate "
            f"{word} the smaller one once both have had the time"
        )
    return "**Measured cause.** " + "; ".join(parts) + "."


def _figure(
    runs: dict[tuple[bool, float], dict[str, Any]], rates: tuple[float, ...], epochs: int, out: Path
) -> Path:
    plt = c.pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    xs = list(range(1, epochs + 1))
    for ax, fnn in zip(axes, (False, True), strict=True):
        for lr in rates:
            x = runs[(fnn, lr)]
            (line,) = ax.plot(xs, x["acc"], marker=".", label=f"initial rate {lr:g}")
            if x["settled"]:
                ax.axvline(x["settled"], color=line.get_color(), ls=":", alpha=0.6)
        ax.set_title(f"{'with' if fnn else 'without'} FNN (dotted: epoch the rule settles)")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, title="paper default rate: 0.1", title_fontsize=8)
    axes[0].set_ylabel("validation accuracy (top-1)")
    fig.suptitle("DRNN paper Fig. 19: convergence vs initial learning rate")
    return c.save_figure(fig, out, "convergence")


if __name__ == "__main__":
    raise SystemExit(main())

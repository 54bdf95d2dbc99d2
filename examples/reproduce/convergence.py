"""DRNN paper Fig. 19: validation accuracy per epoch for several initial learning rates, with
and without the FNN branch. Paper: a larger rate converges sooner but to a lower accuracy; the
model without the FNN converges sooner.

    PYTHONPATH=. python examples/reproduce/convergence.py  # 39 min wall (shared machine)
    PYTHONPATH=. python examples/reproduce/convergence.py --quick   # seconds

Synthetic sessions (the FNN branch needs user ids). Every run trains a fixed number of epochs
(no early stop) so the curves are comparable; "settled at" is the first epoch at which the
trainer's stopping rule (spread of the last 3 epochs within two binomial standard errors)
would have stopped.
"""

from __future__ import annotations

import sys
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
        lower.append(a_lo - a_hi > two_se)
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

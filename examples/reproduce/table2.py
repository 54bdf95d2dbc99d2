"""DRNN paper Table II: top-1 accuracy and path compression ratio of DRNN without / with the
FNN branch and ALS without / with the user's history, plus the session-views baseline and the
best genome of a genetic search.

    PYTHONPATH=. python examples/reproduce/table2.py  # 42 min wall (shared machine)
    PYTHONPATH=. python examples/reproduce/table2.py --quick    # seconds, synthetic toy sizes

The FNN branch and ALS-with-history need user ids, which the YOOCHOOSE sample does not have
(its sessions are anonymous), so the full table runs on the synthetic sessions (600 returning
users) and the YOOCHOOSE rows cover what anonymous sessions allow.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

from autorec.genome import load_genome

#: the bounds its search ran with (the other scripts use the smaller ``_common.CPU_CAPS``)
CAPS = {
    "width": 4,
    "length": 3,
    "units_1": 128,
    "units_2": 128,
    "units_3": 128,
    "units_4": 128,
    "fnn_units": 64,
}
PAPER = {  # Table II: accuracy, compression ratio
    "DRNN without FNN": (0.222638, 0.771280),
    "DRNN with FNN": (0.331312, 0.724127),
    "ALS without History": (0.016243, 0.991366),
    "ALS with History": (0.063745, 0.965895),
}


def _drnn(sessions: c.Sessions, genome: Any, epochs: int, args: Any) -> dict[str, float]:
    def compute() -> dict[str, float]:
        r = c.train(genome, sessions.data, epochs=epochs, seed=args.seed, threads=args.threads)
        m = dict(r.test_metrics)
        m["epochs"] = float(r.epochs)
        return m

    parts = ["table2", sessions.label, sessions.split, genome.key, epochs, args.seed, args.quick]
    m = c.memo(Path(args.runs), parts, compute)
    print(f"{sessions.label}: {genome.key} top1 {m['top1']:.3f}", flush=True)
    return m


def _rows(sessions: c.Sessions, args: Any, quick: bool, users: bool) -> list[tuple[str, Any]]:
    epochs = 2 if quick else (30 if users else 3)
    rows: list[tuple[str, Any]] = []
    rows.append(("DRNN without FNN", _drnn(sessions, c.drnn_default(quick), epochs, args)))
    if users:
        rows.append(
            ("DRNN with FNN", _drnn(sessions, c.drnn_default(quick, fnn=True), epochs, args))
        )
    rows.append(("ALS without History", c.baseline_metrics("als", sessions)))
    if users:
        rows.append(("ALS with History", c.baseline_metrics("als", sessions, history=True)))
    rows.append(("session-views", c.baseline_metrics("session-views", sessions)))
    return rows


def main(argv: list[str] | None = None) -> int:
    args = c.parser(__doc__.splitlines()[0], search="ray").parse_args(argv)
    quick = bool(args.quick)
    out = c.out_dir(args)
    sec = c.section(
        "table2", "DRNN paper Table II: accuracy and path compression", "table2.py", quick
    )
    budget = c.Budget(2, 0, 1) if quick else c.Budget(4, 2, 6)

    synth = c.synthetic_sessions(args.seed, quick)
    results: dict[str, list[tuple[str, Any]]] = {synth.label: _rows(synth, args, quick, True)}
    tuned = c.tune(
        synth,
        {},
        budget,
        runs=Path(args.runs),
        seed=args.seed,
        inline=quick or args.search == "inline",
        caps=CAPS,
    )
    best, how = tuned.genome, tuned.how
    results[synth.label].append(
        (f"best searched genome ({how})", _drnn(synth, best, 2 if quick else 30, args))
    )
    if not quick:
        yc = c.yoochoose_sessions()
        results[yc.label] = _rows(yc, args, quick, False)
        example = load_genome(c.ROOT / "examples/genomes/yoochoose_drnn.yaml")
        results[yc.label].append(
            (
                "example genome yoochoose_drnn.yaml (earlier validation sweep)",
                _drnn(yc, example, 30, args),
            )
        )

    table_rows = []
    for label, rows in results.items():
        for name, m in rows:
            paper = PAPER.get(name, (None, None))
            table_rows.append(
                [
                    label,
                    name,
                    c.fmt(m["top1"]),
                    c.fmt(paper[0]),
                    c.fmt(m["path_compression"]),
                    c.fmt(paper[1]),
                    c.fmt(m["top10"]),
                    f"{m['epochs']:.0f}" if "epochs" in m else "–",
                ]
            )
    sec.add(
        "Test split (synthetic: the generator's default split; YOOCHOOSE: "
        f"`--split {c.YOOCHOOSE_SPLIT}`). Accuracy = top-1 over every prefix of every test "
        "session with a purchase; compression = mean L2/L1 (lower is better). The synthetic "
        "sessions are generated data (600 returning users who re-buy liked items), used because "
        "the FNN branch and ALS with history need user ids and the YOOCHOOSE sample has none. "
        f"DRNN rows: the paper's Table I defaults scaled to 2 CPUs (`_common.drnn_default`), "
        f"early-stopped at R = {2 if quick else 30} epochs on synthetic and R = "
        f"{2 if quick else 3} on YOOCHOOSE (~40 s per epoch there on an idle core, several "
        f"times that on the shared machine). Search: {budget.text(CAPS)}, every gene free."
    )
    sec.add(
        c.md_table(
            ["data", "method", "accuracy", "paper", "compression", "paper", "top-10", "epochs"],
            table_rows,
        )
    )
    fig_path = _figure(results, out)
    sec.add(f"![Table II as bars](figures/{fig_path.name})")
    shares = {synth.label: c.viewed_then_bought(synth)}
    if not quick:
        shares[yc.label] = c.viewed_then_bought(yc)
    sec.add(_verdict(results[synth.label]) + " " + _cause(results, shares))
    c.write_section(out, sec, quick)
    return 0


def _cause(results: dict[str, list[tuple[str, Any]]], shares: dict[str, float]) -> str:
    """The measured property of the data behind the ALS and session-views rows."""
    parts = []
    for label, share in shares.items():
        m = dict(results[label])
        parts.append(
            f"{label}: {100 * share:.0f} % of the test prefixes already showed an item the "
            f"session buys; session-views (which ranks exactly those items) gets top-1 "
            f"{m['session-views']['top1']:.3f}, ALS (the prefix's viewed items folded in) "
            f"{m['ALS without History']['top1']:.3f}, the default DRNN (no view path) "
            f"{m['DRNN without FNN']['top1']:.3f}"
        )
    return (
        "Measured cause: " + "; ".join(parts) + ". On such data remembering the viewed items "
        "is most of the signal, which the paper's Kaola log (ALS at 0.016) evidently lacked; "
        "the DRNN defaults have no direct path from a viewed item to its score and must learn "
        "it through the page table (the searched genomes switch the view path on). " + FNN_CAUSE
    )


#: where the FNN row's direction is measured (its controlled runs take their own section)
FNN_CAUSE = (
    "Why the FNN branch lowers the default DRNN's accuracy here: measured in the next "
    "section (`fnn_causes.py`)."
)


def _verdict(rows: list[tuple[str, Any]]) -> str:
    m = dict(rows)
    d0, d1 = m["DRNN without FNN"], m["DRNN with FNN"]
    a0, a1 = m["ALS without History"], m["ALS with History"]
    fnn_up = d1["top1"] > d0["top1"]
    als_up = a1["top1"] > a0["top1"]
    drnn_beats = min(d0["top1"], d1["top1"]) > max(a0["top1"], a1["top1"])
    parts = [
        f"FNN: {d0['top1']:.3f} → {d1['top1']:.3f} top-1 (paper 0.223 → 0.331, "
        f"{'same' if fnn_up else 'opposite'} direction).",
        f"ALS history: {a0['top1']:.3f} → {a1['top1']:.3f} (paper 0.016 → 0.064, "
        f"{'same' if als_up else 'opposite'} direction).",
        f"DRNN above both ALS rows: {'yes' if drnn_beats else 'no'} (paper: yes).",
        f"Compression with FNN {d1['path_compression']:.3f} vs without "
        f"{d0['path_compression']:.3f} (paper 0.724 < 0.771).",
    ]
    holds = fnn_up and als_up and drnn_beats
    return c.verdict(holds, " ".join(parts))


def _figure(results: dict[str, list[tuple[str, Any]]], out: Path) -> Path:
    plt = c.pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    names = [n for label in results for n, _ in results[label]]
    labels = [f"{n.split(' (')[0]}\n[{label}]" for label in results for n, _ in results[label]]
    metrics = [m for label in results for _, m in results[label]]
    palette = dict(zip(results, ("tab:blue", "tab:green"), strict=False))
    colors = [palette[label] for label in results for _ in results[label]]
    for ax, key, idx, title in (
        (axes[0], "top1", 0, "accuracy (top-1), higher is better"),
        (axes[1], "path_compression", 1, "path compression ratio L2/L1, lower is better"),
    ):
        y = [m[key] for m in metrics]
        xs = range(len(y))
        for label, color in palette.items():
            ax.bar([], [], color=color, label=f"this project, {label}")
        ax.bar(xs, y, color=colors)
        px = [i for i, n in enumerate(names) if n in PAPER]
        ax.scatter(
            px,
            [PAPER[names[i]][idx] for i in px],
            color="tab:red",
            marker="D",
            zorder=3,
            label="paper (Table II)",
        )
        ax.set_xticks(list(xs))
        ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=7)
        ax.set_ylabel(title.split(",")[0])
        ax.set_xlabel("method [data]")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle("DRNN paper Table II reproduced")
    return c.save_figure(fig, out, "table2")


if __name__ == "__main__":
    raise SystemExit(main())

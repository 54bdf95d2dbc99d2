"""The generation-aware search report: ``report.html`` and PNG plots.

Ray 2.x has no Tune tab in its dashboard, so the run writes its own page
(docs/design.md#what-users-touch): fitness per generation (best and mean), population
diversity, the best genome, the hall of fame, the generations and every trial. It is
rebuilt from the run directory's files alone after every generation (and by
``autorec report RUN_DIR``). The page is self-contained: the plots are embedded as base64
PNG (and also written to ``plots/``), no scripts, no external resources.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from autorec.tune._rundir import RunDir, atomic_write_bytes, atomic_write_text

__all__ = ["build_report"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em;color:#222}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left}
th{background:#f3f3f3}tr:nth-child(even) td{background:#fafafa}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.plots img{max-width:48%;margin-right:1%;border:1px solid #eee}
.muted{color:#777}.ok{color:#1a7f37}.bad{color:#b42318}
code{background:#f3f3f3;padding:0 .2em}
#comparison tbody tr:first-child td{background:#fff4ce;font-weight:600}
"""


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.4g}"
    return str(value)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], table_id: str) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for v in row:
            cls = ' class="num"' if isinstance(v, (int, float)) and not isinstance(v, bool) else ""
            cells.append(f"<td{cls}>{html.escape(_fmt(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table id="{table_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


#: Per-generation series of the two plots: (logbook key, matplotlib line style, label).
_FITNESS_LINES: tuple[tuple[str, dict[str, Any], str], ...] = (
    (
        "best_so_far",
        {"color": "#2ca02c", "drawstyle": "steps-post", "linewidth": 5, "alpha": 0.45},
        "best so far",
    ),
    ("best_fitness", {"marker": "o", "color": "#1f77b4"}, "best (population)"),
    ("mean_fitness", {"marker": "s", "color": "#ff7f0e"}, "mean (population)"),
)
_DIVERSITY_LINES: tuple[tuple[str, dict[str, Any], str], ...] = (
    ("gene_diversity", {"marker": "o", "color": "#9467bd"}, "gene diversity"),
    ("unique_fraction", {"marker": "s", "color": "#8c564b"}, "unique genomes (share)"),
)


def _lines(
    ax: Any,
    gens: list[int],
    generations: Sequence[Mapping[str, Any]],
    series: tuple[tuple[str, dict[str, Any], str], ...],
) -> None:
    """One line per (key, style, label) over the generations (none without generations)."""
    if not gens:
        return
    for key, style, label in series:
        ax.plot(gens, [float(g.get(key) or 0.0) for g in generations], label=label, **style)


def _plot_png(
    kind: str, generations: Sequence[Mapping[str, Any]], records: Sequence[Mapping[str, Any]]
) -> bytes:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    gens = [int(g.get("generation", i)) for i, g in enumerate(generations)]
    if kind == "fitness":
        pts = [(int(r.get("generation", 0)), float(r.get("fitness") or 0.0)) for r in records]
        if pts:
            ax.scatter(
                [p[0] for p in pts],
                [p[1] for p in pts],
                s=12,
                alpha=0.35,
                color="#999",
                label="trials",
            )
        _lines(ax, gens, generations, _FITNESS_LINES)
        ax.set_ylabel("fitness = accuracy + 1/(1+loss)")
        ax.set_title("Fitness per generation")
    else:
        _lines(ax, gens, generations, _DIVERSITY_LINES)
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("fraction")
        ax.set_title("Population diversity")
    ax.set_xlabel("generation")
    if gens:
        ax.set_xticks(gens)
    ax.grid(alpha=0.3)
    handles, _labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _split_genes(genome: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The genes the network uses (family first) and the names of those it ignores (e.g.
    ``units_4`` at ``length: 3``, ``fnn_units`` without ``fnn``)."""
    from autorec.genome import Genome

    try:
        active = Genome.from_dict(genome).active
    except Exception:  # an older or hand-edited genome: show every gene
        return dict(genome), []
    used = {k: v for k, v in genome.items() if k == "family" or k in active}
    return used, [k for k in genome if k not in used]


def _metrics_once(best: Mapping[str, Any]) -> dict[str, Any]:
    """The best genome's metrics without ``val_loss`` when it repeats ``loss`` (the
    fitness's validation loss is reported under both names)."""
    metrics = dict(best.get("metrics") or {})
    if "loss" in metrics and metrics.get("val_loss") == metrics["loss"]:
        metrics.pop("val_loss")
    return metrics


def _unique_count(entry: Mapping[str, Any]) -> str:
    """Distinct genomes of a generation as ``n/size`` (the logbook keeps the share)."""
    size = int(entry.get("size") or 0)
    share = float(entry.get("unique_fraction") or 0.0)
    return f"{round(share * size)}/{size}" if size else ""


def _data_line(config: Mapping[str, Any]) -> str:
    """Which data the run used; said loudly when it is the built-in synthetic data."""
    path = config.get("data")
    split = config.get("split") or "default split"
    if not path:
        return (
            '<p class="bad" id="data"><b>Data: the built-in synthetic data</b> (generated, '
            "seeded; not real shop data). Pass <code>--data PATH</code> to search on your "
            f"own. Split: {html.escape(str(split))}</p>"
        )
    return (
        f'<p class="muted" id="data">Data: <code>{html.escape(str(path))}</code> · split '
        f"{html.escape(str(split))}</p>"
    )


def _comparison_section(rd: RunDir) -> str:
    """The best network's test metrics beside every baseline's on the same split."""
    from autorec.baselines import read_comparison

    comp = read_comparison(rd.root)
    head = "<h2>Test split: best network vs. baselines</h2>"
    if comp is None:
        return (
            head + '<p class="muted" id="comparison">Written when the search stops '
            "(comparison.json).</p>"
        )
    names = list(comp.get("metrics") or [])
    network = dict(comp.get("network") or {})
    rows: list[list[Any]] = [
        [f"best network {comp.get('genome_key') or ''}", *[network.get(n) for n in names]]
    ]
    best = comp.get("best_baseline")
    for name, metrics in dict(comp.get("baselines") or {}).items():
        label = f"{name} (best baseline)" if name == best else name
        rows.append([label, *[dict(metrics).get(n) for n in names]])
    verdict = str(comp.get("verdict"))
    cls = "bad" if verdict in ("loses", "unknown") else "ok"
    lines = [str(x) for x in comp.get("lines") or []]
    text = html.escape(lines[-1] if lines else verdict)
    return (
        head
        + _table(["model", *[f"test {n}" for n in names]], rows, "comparison")
        + f'<p class="{cls}" id="verdict"><b>{text}</b></p>'
    )


def _trial_epochs_text(config: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> str:
    """The budget spent, in trial-epochs, and how many trials stopped at a rung."""
    spent = sum(int(r.get("epochs") or 0) for r in records)
    text = f"{spent} trial-epochs"
    if config.get("fidelity", "none") != "none":
        stopped = sum(1 for r in records if r.get("rung") is not None)
        text += f" ({config.get('fidelity')}: {stopped} stopped at a rung)"
    return text


def _failures_section(records: Sequence[Mapping[str, Any]]) -> str:
    """The failed trials (status ``error``: the trainer raised or the trial was lost, not a
    genome's outcome), each with its message and traceback; empty when none failed."""
    failed = [r for r in records if r.get("status") == "error"]
    if not failed:
        return ""
    items = []
    for r in failed:
        name = html.escape(str(r.get("trial_name") or r.get("trial_id") or ""))
        message = html.escape(str(r.get("error") or "no message").splitlines()[0][:300])
        trace = str(r.get("traceback") or "").strip()
        detail = f"<details><summary>traceback</summary><pre>{html.escape(trace)}</pre></details>"
        items.append(
            f"<li><code>{html.escape(str(r.get('genome_key')))}</code> {name}: {message}"
            f"{detail if trace else ''}</li>"
        )
    return (
        f"<h2 id='failures'>Failed trials ({len(failed)})</h2><p class='muted'>Status error: "
        "the trial raised (a bug or a broken setup, not the genome's outcome) or was lost; "
        "it scored 0 and the search went on.</p><ul>" + "".join(items) + "</ul>"
    )


def build_report(run_dir: RunDir | str, *, status: str | None = None) -> RunDir:
    """Rewrite ``report.html`` and ``plots/*.png`` of ``run_dir`` from its files (atomic)."""
    rd = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    config = rd.read_config() if rd.exists() else {}
    generations = rd.read_generations()
    records = rd.read_records()
    hof: list[dict[str, Any]] = []
    if rd.hall_of_fame.is_file():
        import yaml

        loaded = yaml.safe_load(rd.hall_of_fame.read_text(encoding="utf-8")) or []
        hof = [dict(x) for x in loaded] if isinstance(loaded, list) else []
    if status is None:
        status = "finished" if rd.done.is_file() else "running (or interrupted)"

    pngs = {kind: _plot_png(kind, generations, records) for kind in ("fitness", "diversity")}
    for kind, data in pngs.items():
        atomic_write_bytes(rd.plots / f"{kind}.png", data)

    parts: list[str] = []
    title = f"autorec search — {config.get('space', '?')} ({config.get('algorithm', '?')})"
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    parts.append(f"<h1>{html.escape(title)}</h1>")
    ok = sum(1 for r in records if r.get("status") == "ok")
    failed = sum(1 for r in records if r.get("status") == "error")
    failed_txt = f", <b>{failed} failed</b>" if failed else ""
    total = config.get("generations")
    total_txt = str(int(total) + 1) if isinstance(total, int) else "?"
    parts.append(
        f'<p class="muted">Run dir <code>{html.escape(str(rd.root))}</code> · status '
        f"<b>{html.escape(status)}</b> · {len(generations)} of {total_txt} "
        "populations evaluated (the initial one, then one per bred generation) · "
        f"{len(records)} trials ({ok} ok{failed_txt}) · {_trial_epochs_text(config, records)} · "
        f"updated {now}</p>"
    )
    parts.append(_data_line(config))
    parts.append(_failures_section(records))
    parts.append(_comparison_section(rd))
    parts.append("<h2>Fitness and diversity</h2><div class='plots'>")
    for kind, data in pngs.items():
        b64 = base64.b64encode(data).decode("ascii")
        parts.append(
            f'<img id="plot-{kind}" alt="{kind} per generation" src="data:image/png;base64,{b64}">'
        )
    parts.append("</div>")

    best = hof[0] if hof else None
    parts.append("<h2>Best genome</h2>")
    if best:
        genome = dict(best.get("genome") or {})
        rows: list[list[Any]] = [
            ["genome key", best.get("key", "")],
            ["fitness", best.get("fitness")],
        ]
        used, unused = _split_genes(genome)
        rows += [[f"gene {k}", v] for k, v in used.items()]
        rows += [[f"metric {k}", v] for k, v in _metrics_once(best).items()]
        parts.append(_table(["field", "value"], rows, "best-genome"))
        if unused:
            parts.append(
                "<p class='muted'>Genes this network does not use (hidden; they do not change "
                f"its key): {html.escape(', '.join(unused))}</p>"
            )
    else:
        parts.append("<p class='muted'>No generation has closed yet.</p>")

    if hof:
        parts.append("<h2>Hall of fame</h2>")
        parts.append(
            _table(
                ["rank", "genome key", "fitness", "status", "epochs"],
                [
                    [i + 1, h.get("key"), h.get("fitness"), h.get("status"), h.get("epochs")]
                    for i, h in enumerate(hof)
                ],
                "hall-of-fame",
            )
        )

    parts.append("<h2>Generations</h2>")
    parts.append(
        _table(
            [
                "generation",
                "best",
                "mean",
                "best so far",
                "evaluated",
                "unique genomes",
                "gene diversity",
            ],
            [
                [
                    g.get("generation"),
                    g.get("best_fitness"),
                    g.get("mean_fitness"),
                    g.get("best_so_far"),
                    g.get("n_evaluated"),
                    _unique_count(g),
                    g.get("gene_diversity"),
                ]
                for g in generations
            ],
            "generations",
        )
    )

    parts.append("<h2>Trials</h2>")
    metric_names = sorted(
        {m for r in records for m in dict(r.get("metrics") or {}) if m.startswith("val_")}
    )
    parts.append(
        _table(
            [
                "#",
                "generation",
                "trial",
                "genome key",
                "status",
                "fitness",
                "epochs",
                "rung",
                "wall s",
                "params",
                *metric_names,
            ],
            [
                [
                    i + 1,
                    r.get("generation"),
                    r.get("trial_name") or r.get("trial_id"),
                    r.get("genome_key"),
                    r.get("status"),
                    r.get("fitness"),
                    r.get("epochs"),
                    r.get("rung"),
                    r.get("wall_s"),
                    r.get("n_params"),
                    *[dict(r.get("metrics") or {}).get(m) for m in metric_names],
                ]
                for i, r in enumerate(records)
            ],
            "trials",
        )
    )

    parts.append("<h2>Options</h2>")
    parts.append(
        _table(
            ["option", "value"],
            [[k, v if not isinstance(v, (dict, list)) else str(v)] for k, v in config.items()],
            "options",
        )
    )

    page = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(parts)
        + "</body></html>\n"
    )
    atomic_write_text(rd.report, page)
    return rd

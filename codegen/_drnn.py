"""Renders a :class:`DrnnSpec` as the source of a torch module (DRNN paper, Section III).

The file is composition: a config, one small module per idea (the recurrent stack, the output
heads, the FNN branch, the view path) and the family loss of ``codegen/runtime.py``. Only the
parts a spec uses are emitted: no FNN code without the FNN branch, no shortcut heads at
height 0, no dropout at dropout 0, no sampler without sampling.
"""

from __future__ import annotations

import math

from codegen._common import activation, config, header, join
from codegen.spec import DrnnSpec

TITLE = '''\
"""DRNN: deep recurrent network over a browsing session (Wu et al., "Personal recommendation
using deep recurrent neural networks in NetEase", Section III and Algorithm 1).

Each of `width` states holds len(units) layers shared by every state: a_i(t) = act(W_i a_i(t-1)
+ Z_i a_{i-1}(t) + b_i), a_1(t) = act(W_1 a_1(t-1) + Z_1 V_{p_t} + theta(p_t) g + b_1). Older
pages form the history state (Sec. III.C); every state has an output (loss) layer."""
'''


def _config(spec: DrnnSpec) -> str:
    rows: list[tuple[str, object, str]] = [
        ("n_pages", spec.n_pages, "page ids 0..n_pages-1; n_pages pads a short prefix"),
        ("n_items", spec.n_items, "items scored"),
        ("width", spec.width, "states kept (w); older pages form the history state"),
        ("units", spec.units, "hidden units of layers 1..l"),
    ]
    if spec.height:
        rows.append(("height", spec.height, "lowest hidden layers with a shortcut to the loss"))
    if spec.dropout:
        rows.append(("dropout", spec.dropout, "on hidden activations between layers"))
    if spec.loss != "softmax":
        rows.append(("loss", spec.loss, "state cost: BCE summed over items"))
    if spec.l2:
        rows.append(("l2", spec.l2, "L2 penalty on weight matrices, added to the loss"))
    if spec.fnn:
        rows.append(("fnn_layers", spec.fnn_layers, "hidden layers of the FNN branch"))
        rows.append(("fnn_units", spec.fnn_units, "units per FNN hidden layer"))
    if spec.view_path:
        scale = math.log(max(spec.n_items, 2)) / math.log(2.0)
        rows.append(("view_scale", scale, "view path's initial scale: log(n_items) / log(2)"))
    if spec.output == "sampled":
        rows.append(("output", "sampled", "training scores the batch's candidates only"))
        rows.append(("negatives", spec.negatives, "items sampled per training batch"))
    if spec.state_negatives is not None:
        what = "sampled per batch for the states before the last"
        rows.append(("state_negatives", spec.state_negatives, what))
    return config(spec, "DrnnConfig", rows)


def _drop(spec: DrnnSpec, expr: str) -> str:
    return f"self.drop({expr})" if spec.dropout else expr


def _drop_init(spec: DrnnSpec) -> str:
    return "        self.drop = nn.Dropout(config.dropout)\n" if spec.dropout else ""


def _stack(spec: DrnnSpec) -> str:
    upper = (
        f"            if i:  # Z_i a_(i-1) + b_i, every state at once\n"
        f"                x = self.z[i - 1]({_drop(spec, 'acts[-1]')})\n"
        if spec.length > 1
        else ""
    )
    z_init = (
        "            if i:\n"
        "                self.z.append(nn.Linear(config.units[i - 1], units, device=devices[0]))\n"
        if spec.length > 1
        else ""
    )
    deep = spec.length > 1
    units_loop = (
        "        for i, units in enumerate(config.units):\n"
        if deep
        else "        for units in config.units:\n"
    )
    w_loop = "        for i, w in enumerate(self.w):\n" if deep else "        for w in self.w:\n"
    w_append = "            self.w.append(nn.Linear(units, units, bias=False, device=devices[0]))\n"
    return f'''\
class Stack(nn.Module):
    """The hidden layers, shared by every state (Caffe weight sharing, Sec. III.E.2)."""

    def __init__(self, config: rt.DrnnConfig, devices: tuple[str, ...]) -> None:
        super().__init__()
        self.n_pages = config.n_pages
        self.pages = rt.item_input(config.n_pages + 1, config.units[0], devices)
        self.dwell_gain = nn.Parameter(torch.zeros(config.units[0], device=devices[0]))
        self.bias = nn.Parameter(torch.zeros(config.units[0], device=devices[0]))
        self.z, self.w = nn.ModuleList(), nn.ModuleList()
{units_loop}{z_init}{w_append}{_drop_init(spec)}
    def forward(self, batch: rt.Batch) -> list[torch.Tensor]:
        """[B, width, units] per layer; state 0 (history) takes V_bar = sum_i eps_i V_i (Z_1 V_p is
        row p of the page table); pages == n_pages are left padding."""
        pages, offsets = batch["pages"], batch["hist_offsets"]
        flat = pages.reshape(-1)
        rows = self.pages(flat, torch.arange(len(flat), device=flat.device)).view(*pages.shape, -1)
        window = rows + batch["dwell"].unsqueeze(-1) * self.dwell_gain
        hist = self.pages(batch["hist_idx"], offsets, per_sample_weights=batch["hist_weight"])
        x = torch.cat([hist.unsqueeze(1), window], 1) + self.bias
        has_hist = torch.diff(offsets, append=offsets.new_tensor([len(batch["hist_idx"])])) > 0
        real = torch.cat([has_hist.unsqueeze(1), pages != self.n_pages], 1)
        acts: list[torch.Tensor] = []
{w_loop}{upper}            acts.append(rt.recurrence(x, w, real, act))
        return [a[:, 1:] for a in acts]
'''


def _heads(spec: DrnnSpec) -> str:
    sparse = ", sparse=s" if spec.output == "sampled" else ""
    sampled_line = '        s = config.output == "sampled"  # a sampled output\n' if sparse else ""
    head = f"rt.item_output(u, n, devices, bias=False{sparse})"
    loop = "for u in config.units[: config.height]"
    # one line where it fits (ruff format's layout), else the loop on a line of its own
    gen = f"{head} {loop}" if not sparse else f"{head}\n            {loop}"
    short_init = (
        f"        self.shortcuts = nn.ModuleList(\n            {gen}\n        )\n"
        if spec.height
        else ""
    )
    short_fwd = (
        "        for head, a in zip(self.shortcuts, acts, strict=False):\n"
        f"            logits = logits + rt.item_scores(head, {_drop(spec, 'a')}, cols)\n"
        if spec.height
        else ""
    )
    what = (
        "of the top hidden layer plus shortcuts\n    from the lowest `height` layers "
        "(Algorithm 1, lines 19-24)"
        if spec.height
        else "of the top hidden layer (Alg. 1, 10-11)"
    )
    fnn_init = "        self.fnn = FnnBranch(config, devices)\n" if spec.fnn else ""
    fnn_fwd = (
        "        fnn = self.fnn(batch, cols)  # [B, N]: the same for every state\n"
        "        return logits + (fnn if acts[0].dim() == 2 else fnn.unsqueeze(1))\n"
        if spec.fnn
        else "        return logits\n"
    )
    what += " and the FNN\n    branch's" if spec.fnn else ""
    return f'''\
class Heads(nn.Module):
    """Every state's output (loss) layer: item logits {what}."""

    def __init__(self, config: rt.DrnnConfig, devices: tuple[str, ...]) -> None:
        super().__init__()
        n = config.n_items
{sampled_line}        self.top = rt.item_output(config.units[-1], n, devices{sparse})
{short_init}{fnn_init}{_drop_init(spec)}
    def forward(
        self, acts: list[torch.Tensor], batch: rt.Batch, cols: torch.Tensor | None = None
    ) -> rt.Logits:
        """Logits of states from their activations per layer [B, (states,) units]."""
        logits = rt.item_scores(self.top, {_drop(spec, "acts[-1]")}, cols)
{short_fwd}{fnn_fwd}'''


def _fnn(spec: DrnnSpec) -> str:
    assert spec.fnn_layers is not None
    sparse = ', sparse=config.output == "sampled"' if spec.output == "sampled" else ""
    hidden_init = (
        "        self.hidden = nn.ModuleList(\n"
        "            nn.Linear(units, units, device=devices[0]) "
        "for _ in range(config.fnn_layers - 1)\n"
        "        )\n"
        if spec.fnn_layers > 1
        else ""
    )
    hidden_fwd = (
        f"        for layer in self.hidden:\n            h = act(layer({_drop(spec, 'h')}))\n"
        if spec.fnn_layers > 1
        else ""
    )
    out_init = (
        f"        self.out = rt.item_output(units, config.n_items, devices, bias=False{sparse})"
    )
    if len(out_init) > 100:
        out_init = (
            "        self.out = rt.item_output(\n"
            f"            units, config.n_items, devices, bias=False{sparse}\n        )"
        )
    return f'''\
class FnnBranch(nn.Module):
    """CF simulation (Sec. III.D): the user's purchases -> fnn_layers hidden layers -> logits
    added to every state's (merge weights learnt); no purchases give act(bias) as layer 1."""

    def __init__(self, config: rt.DrnnConfig, devices: tuple[str, ...]) -> None:
        super().__init__()
        units = config.fnn_units or 1
        self.bag = rt.item_input(config.n_items, units, devices)
        self.bias = nn.Parameter(torch.zeros(units, device=devices[0]))
{hidden_init}{_drop_init(spec)}{out_init}

    def forward(self, batch: rt.Batch, cols: torch.Tensor | None) -> rt.Logits:
        h = act(self.bag(batch["user_idx"], batch["user_offsets"]) + self.bias)
{hidden_fwd}        return rt.item_scores(self.out, {_drop(spec, "h")}, cols)
'''


def _forward(spec: DrnnSpec) -> list[str]:
    views = spec.view_path
    last = "self.heads([a[:, -1] for a in acts], batch)"
    lines = ["        acts = self.stack(batch)"]
    if spec.output == "sampled":
        exact = 'batch["target_idx"]' + (', batch["viewed_idx"]' if views else "")
        lines += [
            "        if not self.training:",
            f"            return {'self.views(' + last + ', batch)' if views else last}",
            f"        cols, weight = self.sampler([{exact}])",
            "        logits = rt.SampledLogits(self.heads(acts, batch, cols), cols, weight)",
        ]
        final = "self.views(logits[:, -1], batch)" if views else "logits[:, -1]"
        states = "logits[:, :-1]" if spec.width > 1 else "None"
        return [*lines, f"        return rt.TrainOut({final}, {states})"]
    lines.append(f"        last = self.views({last}, batch)" if views else f"        last = {last}")
    lines.append("        if not self.training:")
    lines.append("            return last")
    if spec.width == 1:
        return [*lines, "        return rt.TrainOut(last)"]
    earlier = "[a[:, :-1] for a in acts]"
    if spec.state_negatives is None:
        return [*lines, f"        return rt.TrainOut(last, self.heads({earlier}, batch))"]
    return [
        *lines,
        '        cols, weight = self.sampler([batch["target_idx"]])  # earlier states: sampled',
        f"        states = rt.SampledLogits(self.heads({earlier}, batch, cols), cols, weight)",
        "        return rt.TrainOut(last, states)",
    ]


def _net(spec: DrnnSpec) -> str:
    init = [
        "        self.stack = Stack(config, devices)",
        "        self.heads = Heads(config, devices)",
    ]
    if spec.view_path:
        init.append("        self.views = rt.ViewPath(config, devices)")
    init_text = "\n".join(init) + "\n"
    if spec.output == "sampled":
        init_text += "        self.sampler = rt.Sampler(config.n_items, config.negatives)\n"
    if spec.state_negatives is not None:
        init_text += "        self.sampler = rt.Sampler(config.n_items, config.state_negatives)\n"
    n_line = ""
    lazy = ""
    if spec.l2:
        tables = ["(self.stack.pages, pages)", "(self.heads.top, cols)"]
        if spec.fnn:
            tables += ['(self.heads.fnn.bag, batch["user_idx"])', "(self.heads.fnn.out, cols)"]
        lazy_lines = [
            "        cols = rt.candidates(out)  # a sampled output reads only these rows",
            '        pages = torch.cat([batch["pages"].reshape(-1), batch["hist_idx"]])',
            "        lazy = [" + ", ".join(tables[:2]) + "]",
        ]
        if spec.fnn:
            lazy_lines.append("        lazy += [" + ", ".join(tables[2:]) + "]")
        if spec.height:
            lazy_lines.append("        lazy += [(head, cols) for head in self.heads.shortcuts]")
        lazy_lines.append(
            "        return rt.drnn_loss(self.config, batch, out) + "
            "rt.l2_penalty(self, lazy, self.config.l2)"
        )
        lazy = "\n".join(lazy_lines) + "\n"
        loss_doc = (
            "State costs (rt.drnn_loss) + L2 (lazy on item tables: the rows this batch reads)."
        )
    else:
        lazy = "        return rt.drnn_loss(self.config, batch, out)\n"
        loss_doc = "The state costs at every real state (rt.drnn_loss; l2 = 0)."
    forward = "\n".join(_forward(spec)) + "\n"
    return f'''\
class Net(nn.Module):
    """forward(batch): the last state's logits [B, N] (training: rt.TrainOut); loss(batch, out)."""

    def __init__(self, config: rt.DrnnConfig = CONFIG, devices: tuple[str, ...] = DEVICES) -> None:
        super().__init__()
        self.config = config
{init_text}
    def forward(self, batch: rt.Batch) -> rt.Out:
{n_line}{forward}
    def init_item_prior(self, log_odds: torch.Tensor) -> None:
        """Top output bias := the items' log-odds in the training sessions (popularity)."""
        rt.init_item_bias(self.heads.top, log_odds)

    def loss(self, batch: rt.Batch, out: rt.Out) -> torch.Tensor:
        """{loss_doc}"""
{lazy}'''


def render_drnn(spec: DrnnSpec) -> str:
    blocks = [
        header(spec, TITLE) + "\n" + _config(spec),
        activation(spec.activation),
        _stack(spec),
        _fnn(spec) if spec.fnn else "",
        _heads(spec),
        _net(spec),
    ]
    return join(blocks)

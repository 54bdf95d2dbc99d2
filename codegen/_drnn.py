"""Renders a :class:`DrnnSpec` as the source of a torch module (DRNN paper, Section III).

Only the parts a spec uses are emitted: no FNN code without the FNN branch, no shortcut heads
at height 0, no dropout modules at dropout 0, no history/previous-state stash at width 1.
"""

from __future__ import annotations

import math

from codegen._common import (
    BAG_HELPERS,
    ITEM_SQ_NORM,
    SAMPLED,
    activation,
    call,
    constants,
    factories,
    header,
    imports,
    item_prior_method,
    join,
    sharded_body,
    signature,
)
from codegen.spec import DrnnSpec

TITLE = '''\
"""DRNN: deep recurrent network over a browsing session (Wu et al., "Personal recommendation
using deep recurrent neural networks in NetEase", Section III and Algorithm 1).

Each of WIDTH states holds len(UNITS) hidden layers whose weights every state shares:
    a_i(t) = act(W_i a_i(t-1) + Z_i a_{i-1}(t) + b_i),
    a_1(t) = act(W_1 a_1(t-1) + Z_1 V_{p_t} + theta(p_t) g + b_1)   (dwell time as input bias).
Pages older than the window collapse into the history state (Sec. III.C), which feeds the
first state's recurrence and has no output. Every state has an output (loss) layer; the
prediction is the last state's item logits.
"""
'''


def _constants(spec: DrnnSpec) -> str:
    rows: list[tuple[str, object, str]] = [
        ("N_PAGES", spec.n_pages, "page ids 0..N_PAGES-1; N_PAGES pads a short prefix"),
        ("N_ITEMS", spec.n_items, "items scored"),
        ("WIDTH", spec.width, "states kept (w); older pages form the history state"),
        ("UNITS", spec.units, "hidden units of layers 1..l (length l = len(UNITS))"),
    ]
    if spec.height:
        rows.append(("HEIGHT", spec.height, "lowest hidden layers with a shortcut to the loss"))
    if spec.dropout:
        rows.append(("DROPOUT", spec.dropout, "dropout on hidden activations between layers"))
    if spec.fnn_layers is not None:
        rows.append(("FNN_LAYERS", spec.fnn_layers, "hidden layers of the FNN branch"))
        rows.append(("FNN_UNITS", spec.fnn_units, "units per FNN hidden layer"))
    if spec.l2:
        rows.append(("L2", spec.l2, "L2 penalty on weight matrices, added to the loss"))
    if spec.output == "sampled":
        rows.append(("NEGATIVES", spec.negatives, "items sampled per training batch (output)"))
    if spec.view_path:
        scale = math.log(max(spec.n_items, 2)) / math.log(2.0)
        rows.append(("VIEW_SCALE", scale, "initial view-path scale: log(N_ITEMS) / log(2)"))
    return constants(rows)


def _drop(spec: DrnnSpec, expr: str) -> str:
    return f"self.drop({expr})" if spec.dropout else expr


def _drop_init(spec: DrnnSpec) -> str:
    return "        self.drop = nn.Dropout(DROPOUT)\n" if spec.dropout else ""


INPUT_LAYER = '''\
class InputLayer(nn.Module):
    """Hidden layer 1: a_1(t) = act(W_1 a_1(t-1) + Z_1 V_{p_t} + theta(p_t) g + b_1).

    V_{p_t} is one-hot, so Z_1 V_{p_t} is row p_t of a table. The paper writes Z_1 (V_t + theta),
    i.e. theta times Z_1's row sums: a learnt vector scaled by theta, learnt here as dwell_gain.
    """

    def __init__(self, devices: tuple[str, ...]) -> None:
        super().__init__()
        self.z = make_item_input(N_PAGES + 1, UNITS[0], devices)
        self.dwell_gain = nn.Parameter(torch.zeros(UNITS[0], device=devices[0]))
        self.bias = nn.Parameter(torch.zeros(UNITS[0], device=devices[0]))
        self.w = nn.Linear(UNITS[0], UNITS[0], bias=False, device=devices[0])

    def embed(self, pages: torch.Tensor, dwell: torch.Tensor) -> torch.Tensor:
        """Input term of every state, [B, WIDTH, UNITS[0]]."""
        flat = pages.reshape(-1)
        rows = self.z(flat, torch.arange(len(flat), device=flat.device))
        return rows.view(*pages.shape, -1) + dwell.unsqueeze(-1) * self.dwell_gain + self.bias

    def history(self, idx: torch.Tensor, offsets: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """Input term of the history state: Z_1 V_bar + b_1 with V_bar = sum_i eps_i V_i."""
        return self.z(idx, offsets, per_sample_weights=eps) + self.bias

    def forward(self, z: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        return act(z + self.w(prev))
'''

STATE_LAYER = '''\
class StateLayer(nn.Module):
    """Hidden layer i > 1, shared by every state:
    a_i(t) = act(W_i a_i(t-1) + Z_i a_{i-1}(t) + b_i)."""

    def __init__(self, in_units: int, units: int, devices: tuple[str, ...]) -> None:
        super().__init__()
        self.z = nn.Linear(in_units, units, device=devices[0])
        self.w = nn.Linear(units, units, bias=False, device=devices[0])

    def forward(self, below: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        return act(self.z(below) + self.w(prev))
'''


def _stack(spec: DrnnSpec) -> str:
    deep = spec.length > 1
    rest_init = (
        "        self.rest = nn.ModuleList(\n"
        "            StateLayer(UNITS[i - 1], UNITS[i], devices) for i in range(1, len(UNITS))\n"
        "        )\n"
        if deep
        else ""
    )
    if deep:
        step_body = (
            "        acts = [self.first(z, prev[0])]\n"
            "        for layer, before in zip(self.rest, prev[1:], strict=True):\n"
            f"            acts.append(layer({_drop(spec, 'acts[-1]')}, before))\n"
            "        return acts\n"
        )
    else:
        step_body = "        return [self.first(z, prev[0])]\n"
    return f'''\
class Stack(nn.Module):
    """The hidden layers of one state; every state and the history state reuse them
    (the paper's Caffe weight sharing, Sec. III.E.2)."""

    def __init__(self, devices: tuple[str, ...]) -> None:
        super().__init__()
        self.first = InputLayer(devices)
{rest_init}{_drop_init(spec)}
    def step(self, z: torch.Tensor, prev: list[torch.Tensor]) -> list[torch.Tensor]:
        """One state: layer 1 from its input term z, layer i from layer i-1 of the same state."""
{step_body}
    def history(self, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        """History state (Sec. III.C): the same update on V_bar = sum_i eps_i V_i with no previous
        state; all zeros for a sample whose prefix fits in the window."""
        idx, offsets = batch["hist_idx"], batch["hist_offsets"]
        z = self.first.history(idx, offsets, batch["hist_weight"])
        lengths = torch.diff(offsets, append=offsets.new_tensor([len(idx)]))
        empty = (lengths == 0).unsqueeze(1)
        zeros = [z.new_zeros(len(z), units) for units in UNITS]
        return [a.masked_fill(empty, 0.0) for a in self.step(z, zeros)]

    def forward(self, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        """Hidden activations of every state, one [B, WIDTH, units] tensor per layer. A padded
        state (page N_PAGES, left of a short prefix) keeps the previous state unchanged."""
        real = (batch["pages"] != N_PAGES).unsqueeze(-1)
        z = self.first.embed(batch["pages"], batch["dwell"])
        state = self.history(batch)
        states = []
        for t in range(WIDTH):
            new = self.step(z[:, t], state)
            state = [torch.where(real[:, t], a, old) for a, old in zip(new, state, strict=True)]
            states.append(state)
        return [torch.stack(layer, 1) for layer in zip(*states, strict=True)]
'''


def _heads(spec: DrnnSpec) -> str:
    short_init = (
        "        self.shortcuts = nn.ModuleList(\n"
        "            make_item_output(units, N_ITEMS, devices, bias=False) "
        "for units in UNITS[:HEIGHT]\n"
        "        )\n"
        if spec.height
        else ""
    )
    sampled = spec.output == "sampled"
    a = _drop(spec, "a")
    head_a = f"item_scores(head, {a}, cols)" if sampled else f"head({a})"
    short_fwd = (
        "        for head, a in zip(self.shortcuts, acts[:HEIGHT], strict=True):\n"
        f"            logits = logits + {head_a}\n"
        if spec.height
        else ""
    )
    top = (
        f"item_scores(self.top, {_drop(spec, 'acts[-1]')}, cols)"
        if sampled
        else f"self.top({_drop(spec, 'acts[-1]')})"
    )
    params = "self, acts: list[torch.Tensor]" + (
        ", cols: torch.Tensor | None = None" if sampled else ""
    )
    head_def = signature("forward", params, "torch.Tensor")
    fwd_doc = "[B, WIDTH, N_ITEMS] logits from the per-layer activations of every state."
    if sampled:
        fwd_doc = (
            "[B, WIDTH, N_ITEMS] logits from the per-layer activations of every\n"
            "        state, or [B, WIDTH, len(cols)] of the candidate items cols only."
        )
    what = (
        "item logits from the top hidden\n"
        "    layer plus shortcut links from the lowest HEIGHT hidden layers "
        "(Algorithm 1, lines 19-24)"
        if spec.height
        else "item logits from the top hidden\n"
        "    layer (Algorithm 1, lines 10-11; height 0: no shortcut links)"
    )
    return f'''\
class OutputHeads(nn.Module):
    """Output (loss) layer of every state: {what}."""

    def __init__(self, devices: tuple[str, ...]) -> None:
        super().__init__()
        self.top = make_item_output(UNITS[-1], N_ITEMS, devices)
{short_init}{_drop_init(spec)}
{head_def}
        """{fwd_doc}"""
        logits = {top}
{short_fwd}        return logits
'''


def _fnn(spec: DrnnSpec) -> str:
    assert spec.fnn_layers is not None
    deep = spec.fnn_layers > 1
    hidden_init = (
        "        self.hidden = nn.ModuleList(\n"
        "            nn.Linear(FNN_UNITS, FNN_UNITS, device=devices[0]) "
        "for _ in range(FNN_LAYERS - 1)\n"
        "        )\n"
        if deep
        else ""
    )
    hidden_fwd = (
        f"        for layer in self.hidden:\n            h = act(layer({_drop(spec, 'h')}))\n"
        if deep
        else ""
    )
    out_init = "        self.out = make_item_output(FNN_UNITS, N_ITEMS, devices, bias=False)\n"
    if spec.output == "sampled":
        params = "self, idx: torch.Tensor, offsets: torch.Tensor, cols: torch.Tensor | None = None"
        doc = (
            "[B, N_ITEMS] logits (or [B, len(cols)] of the items cols); an empty purchase\n"
            "        history gives act(bias) as its input layer."
        )
        out = f"item_scores(self.out, {_drop(spec, 'h')}, cols)"
    else:
        params = "self, idx: torch.Tensor, offsets: torch.Tensor"
        doc = "[B, N_ITEMS] logits; an empty purchase history gives act(bias) as its input layer."
        out = f"self.out({_drop(spec, 'h')})"
    return f'''\
class FnnBranch(nn.Module):
    """CF simulation (Sec. III.D): the user's purchase multi-hot -> FNN_LAYERS hidden layers ->
    item logits, added to the DRNN's before the softmax (merge weights learnt, not set)."""

    def __init__(self, devices: tuple[str, ...]) -> None:
        super().__init__()
        self.bag = make_item_input(N_ITEMS, FNN_UNITS, devices)
        self.bias = nn.Parameter(torch.zeros(FNN_UNITS, device=devices[0]))
{hidden_init}{_drop_init(spec)}{out_init}
{signature("forward", params, "torch.Tensor")}
        """{doc}"""
        h = act(self.bag(idx, offsets) + self.bias)
{hidden_fwd}        return {out}
'''


#: ViewPath's class line, docstring and parameters; the two variants differ in forward only.
_VIEW_PATH_HEAD = '''\
class ViewPath(nn.Module):
    """Learnt path from the prefix's viewed items to the same items' scores:
    logit[b, i] += (scale + gain[i]) * log1p(views of item i in the prefix).
    scale starts at VIEW_SCALE = log(N_ITEMS) / log(2): one view multiplies an item's odds by
    N_ITEMS, so a viewed item starts as likely as the rest of the catalogue together (a shared
    prior that the per-item output parameters, which fit the training period faster than one
    shared scale grows, need not learn); gain starts at 0."""

    def __init__(self, devices: tuple[str, ...]) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.zeros(N_ITEMS, device=devices[0]))
        self.scale = nn.Parameter(torch.full((), VIEW_SCALE, device=devices[0]))

'''

VIEW_PATH = (
    _VIEW_PATH_HEAD
    + """\
    def forward(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        idx = batch["viewed_idx"]
        rows = bag_rows(batch["viewed_offsets"], len(idx))
        boost = (self.scale + self.gain[idx]) * torch.log1p(batch["viewed_weight"])
        return logits.index_put((rows, idx), boost, accumulate=True)
"""
)


VIEW_PATH_SAMPLED = (
    _VIEW_PATH_HEAD
    + '''\
    def forward(
        self, logits: torch.Tensor, batch: dict[str, torch.Tensor], cols: torch.Tensor | None = None
    ) -> torch.Tensor:
        """With candidate items cols (sampled output), only the viewed items among them."""
        idx = batch["viewed_idx"]
        rows = bag_rows(batch["viewed_offsets"], len(idx))
        boost = (self.scale + self.gain[idx]) * torch.log1p(batch["viewed_weight"])
        if cols is not None:
            pos = torch.searchsorted(cols, idx).clamp(max=len(cols) - 1)
            keep = cols[pos] == idx
            rows, idx, boost = rows[keep], pos[keep], boost[keep]
        return logits.index_put((rows, idx), boost, accumulate=True)
'''
)


def _sampled_cost(spec: DrnnSpec) -> str:
    if spec.loss == "softmax":
        return '''\
def sampled_state_cost(
    scores: torch.Tensor, target: torch.Tensor, weight: torch.Tensor
) -> torch.Tensor:
    """Sampled softmax cross-entropy per state [B, S] over the candidate items (training with a
    sampled output): the log-partition log sum_j exp(z_j) is estimated by logsumexp over the
    candidates of z_c + log weight_c (the logQ correction; exact for the batch's positives),
    whose exponential is an unbiased estimate of the full sum."""
    share = target / target.sum(-1, keepdim=True).clamp(min=1.0)
    log_z = torch.logsumexp(scores + weight.log(), -1, keepdim=True)
    return -(share.unsqueeze(1) * (scores - log_z)).sum(-1)
'''
    return '''\
def sampled_state_cost(
    scores: torch.Tensor, target: torch.Tensor, weight: torch.Tensor
) -> torch.Tensor:
    """Binary cross-entropy per state [B, S] over the candidate items, each item's term times its
    weight: the batch's positives exactly, the sum over the other items estimated without bias
    from the sampled ones (training with a sampled output)."""
    full = target.unsqueeze(1).expand_as(scores)
    cost = F.binary_cross_entropy_with_logits(scores, full, reduction="none")
    return (cost * weight).sum(-1)
'''


def _cost(spec: DrnnSpec) -> str:
    if spec.loss == "softmax":
        return '''\
def state_cost(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy per state [B, S] against the bought set: the target distribution
    is uniform over the items bought in the session."""
    share = target / target.sum(-1, keepdim=True).clamp(min=1.0)
    return -(share.unsqueeze(1) * F.log_softmax(logits, -1)).sum(-1)
'''
    return '''\
def state_cost(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy per state [B, S], summed over items, against the bought set."""
    full = target.unsqueeze(1).expand_as(logits)
    return F.binary_cross_entropy_with_logits(logits, full, reduction="none").sum(-1)
'''


def _net(spec: DrnnSpec) -> str:
    sampled = spec.output == "sampled"
    parts_init = [
        "        self.stack = Stack(devices)",
        "        self.heads = OutputHeads(devices)",
    ]
    if spec.fnn:
        parts_init.append("        self.fnn = FnnBranch(devices)")
    if spec.view_path:
        parts_init.append("        self.views = ViewPath(devices)")
    stash = spec.width > 1
    if stash:
        parts_init.append("        self.state_logits = torch.empty(0)")
    if sampled:
        parts_init.append(
            "        # negatives of the sampled output: a generator seeded from torch's global\n"
            "        # RNG after the parameters, so one seed gives one run\n"
            "        self.sampler = torch.Generator()\n"
            "        self.sampler.manual_seed(int(torch.randint(0, 2**62, ()).item()))"
        )
    init = "\n".join(parts_init) + "\n"

    cols = ", cols" if sampled else ""
    # The view path lifts the viewed items far above the rest: scored exactly (weight 1), they
    # no longer dominate the sampled estimate of the softmax normaliser through rare draws.
    exact = 'batch["target_idx"]' + (', batch["viewed_idx"]' if spec.view_path else "")
    fwd = []
    if sampled:
        fwd += [
            "        cols, weight = None, None",
            "        if self.training:  # sampled output: the batch's candidate items only",
        ]
        if spec.view_path:  # the call no longer fits one line (ruff format's layout)
            fwd += [
                "            cols, weight = sample_candidates(",
                f"                [{exact}], self.sampler",
                "            )",
            ]
        else:
            fwd.append(f"            cols, weight = sample_candidates([{exact}], self.sampler)")
    fwd.append(f"        logits = self.heads(self.stack(batch){cols})")
    if spec.fnn:
        fwd.append(
            "        logits = logits + "
            f'self.fnn(batch["user_idx"], batch["user_offsets"]{cols}).unsqueeze(1)'
        )
    if stash:
        fwd.append("        self.state_logits = logits")
    last = f"self.views(logits[:, -1], batch{cols})" if spec.view_path else "logits[:, -1]"
    if sampled:
        fwd.append(f"        last = {last}")
        fwd.append("        return last if cols is None else SampledLogits(last, cols, weight)")
    else:
        fwd.append(f"        return {last}")
    forward_doc = "Item logits [B, N_ITEMS] of the last state (the prediction)." + (
        " Every state's\n        logits stay in self.state_logits [B, WIDTH, N_ITEMS] for the loss."
        if stash
        else ""
    )
    if spec.view_path:
        forward_doc += (
            "\n        The view path is added to the last state only: "
            "earlier states saw fewer views."
        )
    if spec.sharded:
        forward_doc += (
            "\n        On several devices the logits are ShardedLogits (per-device item blocks)."
        )
    if sampled:
        forward_doc += (
            "\n        In training (sampled output): SampledLogits over the batch's positives and"
            "\n        NEGATIVES sampled items (sample_candidates), never [B, N_ITEMS]."
        )
    returns = "torch.Tensor | SampledLogits" if sampled else "torch.Tensor"

    if stash:
        per_state = (
            "        per_state = torch.cat([self.state_logits[:, :-1], logits.unsqueeze(1)], 1)\n"
        )
        loss_doc = (
            "State cost at every real state (shortened-path training, Sec. III.E), averaged\n"
            "        over a sample's real states, then over the batch. "
            "Uses the state logits of the\n"
            "        latest forward, whose last state is `logits`."
        )
    else:
        per_state = "        per_state = logits.unsqueeze(1)\n"
        loss_doc = "State cost of the single state, averaged over the batch."
    dispatch = ""
    if sampled:
        dispatch += (
            "        if isinstance(logits, SampledLogits):\n"
            "            return self.sampled_loss(batch, logits)\n"
        )
    if spec.sharded:
        states = "self.state_logits" if stash else "None"
        dispatch += (
            "        if not isinstance(logits, torch.Tensor):  # ShardedLogits: shard-aware loss\n"
            + call(
                "return drnn_sharded_data_loss",
                f'batch, logits, {states}, n_pages=N_PAGES, loss="{spec.loss}"',
                "            ",
            )
            + "\n"
        )
    if sampled:
        loss_doc += (
            "\n        Training with a sampled output: the same cost over the candidate items."
        )
    if spec.sharded:
        loss_doc += "\n        ShardedLogits go to the shard-aware loss (same value)."
    logits_type = "torch.Tensor | SampledLogits" if sampled else "torch.Tensor"
    loss_params = f"self, batch: dict[str, torch.Tensor], logits: {logits_type}"
    sampled_params = "self, batch: dict[str, torch.Tensor], logits: SampledLogits"
    data_loss = f'''\
{signature("data_loss", loss_params, "torch.Tensor")}
        """{loss_doc}"""
{dispatch}        target = multi_hot(batch["target_idx"], batch["target_offsets"], logits)
{per_state}        real = (batch["pages"] != N_PAGES).to(logits.dtype)
        cost = state_cost(per_state, target) * real
        return (cost.sum(1) / real.sum(1).clamp(min=1.0)).mean()
'''
    if sampled:
        s_per_state = per_state.replace("logits.unsqueeze", "z.unsqueeze")
        data_loss += f'''
{signature("sampled_loss", sampled_params, "torch.Tensor")}
        """The data loss over the candidate items of a training batch (sampled output)."""
        z = logits.scores
        target = candidate_hot(batch["target_idx"], batch["target_offsets"], logits.cols, z)
{s_per_state}        real = (batch["pages"] != N_PAGES).to(z.dtype)
        cost = sampled_state_cost(per_state, target, logits.weight) * real
        return (cost.sum(1) / real.sum(1).clamp(min=1.0)).mean()
'''
    if spec.l2:
        rows = "cols" if sampled else "None"
        lines = []
        if sampled:
            lines.append(
                "        cols = logits.cols if isinstance(logits, SampledLogits) else None"
            )
        lines += [
            '        pages = torch.cat([batch["pages"].reshape(-1), batch["hist_idx"]])',
            f"        tables = [(self.stack.first.z, pages), (self.heads.top, {rows})]",
        ]
        if spec.height:
            lines.append(f"        tables += [(head, {rows}) for head in self.heads.shortcuts]")
        if spec.fnn:
            lines.append(
                f'        tables += [(self.fnn.bag, batch["user_idx"]), (self.fnn.out, {rows})]'
            )
        lines += [
            "        norms = [item_sq_norm(layer, rows) for layer, rows in tables]",
            "        done = {id(p) for layer, _ in tables for p in layer.parameters()}",
            "        norms += [p.pow(2).sum() for p in self.parameters() "
            "if p.dim() > 1 and id(p) not in done]",
            "        return L2 * torch.stack(norms).sum()",
        ]
        body = "\n".join(lines)
        tables_doc = "the page table" + (" and the FNN's purchase table" if spec.fnn else "")
        if sampled:
            doc = (
                "exact on the hidden layers; lazy on the item-sized\n        tables with "
                f"row-sparse gradients ({tables_doc};\n        the output layers in training, "
                "over the candidate items): only the rows this batch\n        touches are "
                "penalised, the standard lazy-regularisation approximation of the L2\n"
                "        penalty (its gradient would make every row's update dense)."
            )
        else:
            doc = (
                "exact on the hidden and output layers; lazy on the\n        item-sized "
                f"tables with row-sparse gradients ({tables_doc}):\n        only the rows "
                "this batch touches are penalised, the standard lazy-regularisation\n"
                "        approximation of the L2 penalty (its gradient would make every row's "
                "update dense)."
            )
        if spec.sharded:
            doc += "\n        Shards' squared norms are summed on the primary device."
        reg = f'''
{signature("penalty", loss_params, "torch.Tensor")}
        """L2 * squared norm of every weight matrix and table (biases and gains excluded):
        {doc}"""
{body}

{signature("loss", loss_params, "torch.Tensor")}
        """Data loss + L2 penalty."""
        return self.data_loss(batch, logits) + self.penalty(batch, logits)
'''
    else:
        reg = f'''
{signature("loss", loss_params, "torch.Tensor")}
        """Data loss (no regulariser: l2 = 0)."""
        return self.data_loss(batch, logits)
'''
    fwd_body = "\n".join(fwd) + "\n"
    prior = item_prior_method("self.heads.top", PRIOR_DOC, spec.sharded)
    return f'''\
class Net(nn.Module):
    """The DRNN: forward(batch) -> last state's item logits; loss(batch, logits) -> scalar."""

    def __init__(self, devices: tuple[str, ...] = ("cpu",)) -> None:
        super().__init__()
{init}
    def forward(self, batch: dict[str, torch.Tensor]) -> {returns}:
        """{forward_doc}"""
{fwd_body}
{prior}{data_loss}{reg}'''


#: Net.init_item_prior's docstring: the top output layer's bias is the only item bias of the
#: DRNN's heads (shortcut and FNN outputs have none).
PRIOR_DOC = """Set the top output layer's item bias to the items' prior log-odds log(p / (1 - p)),
        p the share of training samples whose session bought the item (a standard output-bias
        initialisation): the untrained network then predicts each item's base rate instead of
        Sigm(0) = 1/2 (BCE) or a uniform softmax, so training starts from popularity rather
        than spending its first epochs pushing every item's score down."""


def render_drnn(spec: DrnnSpec) -> str:
    sampled = spec.output == "sampled"
    blocks = [
        header(spec, TITLE) + "\n" + imports(spec) + "\n" + _constants(spec),
        activation(spec.activation),
        sharded_body() if spec.sharded else "",
        factories(spec),
        BAG_HELPERS,
        ITEM_SQ_NORM if spec.l2 else "",
        SAMPLED if sampled else "",
        _cost(spec),
        _sampled_cost(spec) if sampled else "",
        INPUT_LAYER,
        STATE_LAYER if spec.length > 1 else "",
        _stack(spec),
        _heads(spec),
        _fnn(spec) if spec.fnn else "",
        (VIEW_PATH_SAMPLED if sampled else VIEW_PATH) if spec.view_path else "",
        _net(spec),
    ]
    return join(blocks)

"""Renders a :class:`PredictorSpec` as the source of a torch module (soft-split paper, eq. 3-9).

Only the parts a spec uses are emitted: the decay code of its ``decay_mode``, the cost terms
of its ``split_mode`` whose weights are non-zero, noise/dropout/KL code only when non-zero.
"""

from __future__ import annotations

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
from codegen.spec import PredictorSpec

#: eq. 4: two years of purchase ages in 32 bins (730 / 32 = 22.8125 days per bin).
N_BINS = 32
BIN_DAYS = 730.0 / N_BINS

TITLE = '''\
"""Predictor / auto-encoder over a customer's purchase history (Vorobev et al., "Inferring the
strength of implicit preferences ...": soft-split paper, eq. 3-9).

    A_0 = w(x) + xi;  A_j = Drop(Act(W_j A_{j-1} + B_j));  Y_hat = Sigm(W_L A_{L-1} + B_L)

The input A_0 is sparse: layer 1 is an EmbeddingBag with one weight per purchase (never a
dense P-wide matrix). forward returns the logits W_L A_{L-1} + B_L; Sigm lives in the loss.
"""
'''


def _uses_td(spec: PredictorSpec) -> bool:
    return spec.decay_mode == "parametric" or "recent" in _terms(spec)[2]


def _softmax_terms(spec: PredictorSpec) -> tuple[list[str], list[str], list[str], list[str]]:
    """Terms of the multinomial likelihood (``loss: softmax``; Mult-DAE, Liang et al. 2018,
    "Variational Autoencoders for Collaborative Filtering", eq. 2): the target distributions
    (each normalised per customer by ``share``); no negative terms. Predictor mode: Y alone.
    Soft / equal: the auto term (Td(age, TO)-weighted X in soft mode, X in equal mode) times
    WA1 plus the predict term (Y) times WP1 -- our reading of eq. 7-9 with a softmax output."""
    if spec.split_mode == "predictor":
        return ["share(y)"], [], ["y"], []
    auto = "recent" if spec.split_mode == "soft" else "x"
    pos, needed, used = [], set(), []
    if spec.wa1:
        pos.append(f"WA1 * share({auto})")
        needed.add(auto)
        used.append("WA1")
    if spec.wp1:
        pos.append("WP1 * share(y)")
        needed.add("y")
        used.append("WP1")
    return pos, [], [n for n in ("y", "x", "recent") if n in needed], used


def _terms(spec: PredictorSpec) -> tuple[list[str], list[str], list[str], list[str]]:
    """(positive terms, negative terms, dense targets needed, weight constants used)."""
    if spec.loss == "softmax":
        return _softmax_terms(spec)
    if spec.split_mode == "predictor":
        pos = ["W1 * y"] if spec.w1 else []
        neg = ["W0 * (1 - y)"] if spec.w0 else []
        used = (["W1"] if spec.w1 else []) + (["W0"] if spec.w0 else [])
        return pos, neg, ["y"] if used else [], used
    auto = "recent" if spec.split_mode == "soft" else "x"
    pos, neg, needed, used = [], [], set(), []
    if spec.wa1:
        pos.append(f"WA1 * {auto}")
        needed.add(auto)
        used.append("WA1")
    if spec.wp1:
        pos.append("WP1 * y")
        needed.add("y")
        used.append("WP1")
    if spec.wa0:
        neg.append("WA0 * (1 - torch.maximum(x, y))")
        needed |= {"x", "y"}
        used.append("WA0")
    if spec.wp0:
        neg.append("WP0 * (1 - y)")
        needed.add("y")
        used.append("WP0")
    return pos, neg, [n for n in ("y", "x", "recent") if n in needed], used


def _constants(spec: PredictorSpec) -> str:
    rows: list[tuple[str, object, str]] = [
        ("N_ITEMS", spec.n_items, "products P (input and output)"),
        ("UNITS", spec.units, "hidden units of layers 1..L-1"),
    ]
    if spec.noise:
        rows.append(("NOISE", spec.noise, "std of the Gaussian noise xi on input weights"))
    if spec.input_dropout:
        rows.append(
            ("INPUT_DROPOUT", spec.input_dropout, "probability of dropping an input purchase")
        )
    if spec.dropout:
        rows.append(("DROPOUT", spec.dropout, "dropout on hidden activations"))
    if spec.decay_mode == "parametric":
        rows.append(("TI", spec.ti, "input time decay Td(age, TI), days (eq. 5/6)"))
    if spec.decay_mode == "learnt":
        rows.append(("N_BINS", N_BINS, "age bins of the learnt decay (eq. 4)"))
        rows.append(("BIN_DAYS", BIN_DAYS, "days per bin: two years / 32"))
    _, _, needed, used = _terms(spec)
    if "recent" in needed:
        rows.append(("TO", spec.to, "output time decay Td(age, TO) of the auto term, days"))
    names = {
        "W1": (spec.w1, "weight of bought products (eq. 3)"),
        "W0": (spec.w0, "weight of not-bought products (eq. 3)"),
        "WA1": (spec.wa1, "auto term: weight of past purchases X (eq. 8)"),
        "WA0": (spec.wa0, "auto term: weight of products outside XY (eq. 8)"),
        "WP1": (spec.wp1, "predict term: weight of future purchases Y (eq. 9)"),
        "WP0": (spec.wp0, "predict term: weight of products outside Y (eq. 9)"),
    }
    for name, (value, comment) in names.items():
        if name in used:
            rows.append((name, value, comment))
    if spec.l2:
        rows.append(("L2", spec.l2, "lambda: L2 penalty on weight matrices"))
    if spec.beta:
        rows.append(("BETA", spec.beta, "weight of the KL sparsity penalty"))
        rows.append(("RHO", spec.rho, "target mean activation of hidden units"))
    if spec.output == "sampled":
        rows.append(("NEGATIVES", spec.negatives, "items sampled per training batch (output)"))
    return constants(rows)


TD = '''\
def td(age: torch.Tensor, days: float) -> torch.Tensor:
    """Time decay Td (eq. 5) of purchases `age` days before the reference day: 1 / (1 + age / days)
    for a purchase before the reference day (age >= 0), else 0."""
    return torch.where(age >= 0, 1.0 / (1.0 + age.clamp(min=0.0) / days), torch.zeros_like(age))
'''

RECENT = '''\
def decayed_hot(
    idx: torch.Tensor, offsets: torch.Tensor, value: torch.Tensor, like: torch.Tensor
) -> torch.Tensor:
    """Dense [bags, N_ITEMS] matrix holding each bag's value per item (the largest, i.e. the most
    recent purchase's, when an item repeats), 0 elsewhere."""
    out = torch.zeros(len(offsets) * N_ITEMS, dtype=like.dtype, device=like.device)
    flat = bag_rows(offsets, len(idx)) * N_ITEMS + idx
    return out.scatter_reduce(0, flat, value.to(like.dtype), reduce="amax").view(-1, N_ITEMS)
'''

LEARNT_DECAY = '''\
class LearntDecay(nn.Module):
    """Time decay learnt over N_BINS age bins (eq. 4). With a sparse input, the stride-32
    convolution over the binned purchase dates is one learnt weight per bin plus a bias, applied
    to the products bought (absent products stay 0, keeping the input sparse; no activation).
    bin_weight[k] is the decay curve at ages [k, k+1) * BIN_DAYS (the paper's Figure 4)."""

    def __init__(self, devices: tuple[str, ...]) -> None:
        super().__init__()
        self.bin_weight = nn.Parameter(torch.ones(N_BINS, device=devices[0]))
        self.bin_bias = nn.Parameter(torch.zeros((), device=devices[0]))
        self.bin_days = BIN_DAYS

    def forward(self, age: torch.Tensor) -> torch.Tensor:
        bins = (age / BIN_DAYS).floor().clamp(0, N_BINS - 1).long()
        return self.bin_weight[bins] + self.bin_bias
'''

SPARSE_INPUT = '''\
class SparseInput(nn.Module):
    """Layer 1 on the sparse input: W_1 A_0 + B_1 as a weighted sum of table rows per customer."""

    def __init__(self, devices: tuple[str, ...]) -> None:
        super().__init__()
        self.bag = make_item_input(N_ITEMS, UNITS[0], devices)
        self.bias = nn.Parameter(torch.zeros(UNITS[0], device=devices[0]))

    def forward(
        self, idx: torch.Tensor, offsets: torch.Tensor, weight: torch.Tensor
    ) -> torch.Tensor:
        return self.bag(idx, offsets, per_sample_weights=weight) + self.bias
'''

SHARE = '''\
def share(target: torch.Tensor) -> torch.Tensor:
    """Each row of `target` divided by its sum: a distribution over the items (rows summing to
    0 stay 0), the normalised target of the multinomial likelihood."""
    total = target.sum(-1, keepdim=True)
    return target / torch.where(total > 0, total, torch.ones_like(total))
'''

KL = '''\
def kl_sparsity(mean: torch.Tensor) -> torch.Tensor:
    """sum_j KL(RHO, rho_hat_j) over a layer's units; rho_hat_j (mean activation over the
    batch) is clamped into (0, 1) so non-sigmoid activations give a finite penalty."""
    rho_hat = mean.clamp(1e-6, 1.0 - 1e-6)
    kl = RHO * torch.log(RHO / rho_hat) + (1.0 - RHO) * torch.log((1.0 - RHO) / (1.0 - rho_hat))
    return kl.sum()
'''


def _input_weight(spec: PredictorSpec) -> str:
    expr = {
        "none": "torch.ones_like(age)",
        "parametric": "td(age, TI)",
        "learnt": "self.decay(age)",
    }[spec.decay_mode]
    what = {
        "none": "1 per purchase (no time decay)",
        "parametric": "Td(age, TI) (eq. 5/6)",
        "learnt": "the learnt bin weight of its age (eq. 4)",
    }[spec.decay_mode]
    noise = ""
    if spec.input_norm:
        what += (
            ",\n        divided by the L2 norm of the customer's weights (Mult-DAE's normalised"
            "\n        input, Liang et al. 2018: a long history does not saturate layer 1)"
        )
        noise += (
            '        rows = bag_rows(batch["x_offsets"], len(weight))\n'
            '        norm = torch.zeros(len(batch["x_offsets"]), dtype=weight.dtype, '
            "device=weight.device)\n"
            "        norm = norm.index_add(0, rows, weight * weight).sqrt()\n"
            "        weight = weight / norm.clamp(min=1e-12)[rows]\n"
        )
    if spec.input_dropout:
        what += (
            ",\n        each dropped with probability INPUT_DROPOUT in training (survivors scaled"
            "\n        1 / (1 - INPUT_DROPOUT): the denoising input corruption of Mult-DAE)"
        )
        noise += "        weight = F.dropout(weight, INPUT_DROPOUT, self.training)\n"
    if spec.noise:
        what += (
            ",\n        plus Gaussian noise xi (std NOISE) in training only, on the bought entries"
        )
        noise += (
            "        if self.training:\n"
            "            weight = weight + NOISE * torch.randn_like(weight)\n"
        )
    return f'''\
    def input_weight(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """A_0 entry of each purchase: {what}."""
        age = batch["x_age"]
        weight = {expr}
{noise}        return weight
'''


def _cost_lines(spec: PredictorSpec, *, sampled: bool) -> list[str]:
    """The cost's target and return lines, over every item (``logits``) or over a training
    batch's candidate items (``z = logits.scores``, targets by ``candidate_hot``, each
    negative term times the candidate's weight)."""
    pos, neg, needed, _ = _terms(spec)
    z = "z" if sampled else "logits"

    def hot(name: str, value: str = "") -> str:
        args = f'batch["{name}_idx"], batch["{name}_offsets"]'
        if sampled:
            return f"candidate_hot({args}, logits.cols, z{', ' + value if value else ''})"
        if value:
            return f"decayed_hot({args}, {value}, logits)"
        return f"multi_hot({args}, logits)"

    lines = ["        z = logits.scores"] if sampled else []
    if "y" in needed:
        lines.append(f"        y = {hot('y')}")
    if "x" in needed:
        lines.append(f"        x = {hot('x')}")
    if "recent" in needed:
        decay = 'td(batch["x_age"], TO)'
        prefix, _, args = hot("x", decay).partition("(")
        lines.append(call(f"recent = {prefix}", args[:-1], "        "))
    if spec.loss == "softmax":
        if not pos:
            lines.append(f"        return {z}.sum() * 0.0  # every cost weight is 0")
            return lines
        lines.append(f"        target = {' + '.join(pos)}")
        if sampled:
            lines.append(
                "        log_z = torch.logsumexp(z + logits.weight.log(), -1, keepdim=True)"
            )
            lines.append("        return -(target * (z - log_z)).sum(-1).mean()")
        else:
            lines.append("        return -(target * F.log_softmax(logits, -1)).sum(-1).mean()")
        return lines
    cost_parts = []
    if pos:
        lines.append(f"        pos = {' + '.join(pos)}")
        cost_parts.append(f"pos * F.logsigmoid({z})")
    if neg:
        lines.append(f"        neg = {' + '.join(neg)}")
        weight = "logits.weight * " if sampled else ""
        cost_parts.append(f"{weight}neg * F.logsigmoid(-{z})")
    if cost_parts:
        lines.append(f"        return -({' + '.join(cost_parts)}).sum(-1).mean()")
    else:
        lines.append(f"        return {z}.sum() * 0.0  # every cost weight is 0")
    return lines


def _net(spec: PredictorSpec) -> str:
    drop = (lambda e: f"self.drop({e})") if spec.dropout else (lambda e: e)
    deep = spec.layers > 1
    init = []
    if spec.decay_mode == "learnt":
        init.append("        self.decay = LearntDecay(devices)")
    init.append("        self.input = SparseInput(devices)")
    if deep:
        init.append(
            "        self.hidden = nn.ModuleList(\n"
            "            nn.Linear(UNITS[j - 1], UNITS[j], device=devices[0]) "
            "for j in range(1, len(UNITS))\n"
            "        )"
        )
    if spec.dropout:
        init.append("        self.drop = nn.Dropout(DROPOUT)")
    init.append("        self.out = make_item_output(UNITS[-1], N_ITEMS, devices)")
    if spec.beta:
        init.append("        self.hidden_means: list[torch.Tensor] = []")
    sampled = spec.output == "sampled"
    if sampled:
        init.append(
            "        # negatives of the sampled output: a generator seeded from torch's global\n"
            "        # RNG after the parameters, so one seed gives one run\n"
            "        self.sampler = torch.Generator()\n"
            "        self.sampler.manual_seed(int(torch.randint(0, 2**62, ()).item()))"
        )

    fwd = [
        '        h = act(self.input(batch["x_idx"], batch["x_offsets"], self.input_weight(batch)))'
    ]
    if spec.beta:
        fwd.append("        means = [h.mean(0)]")
    if deep:
        fwd.append("        for layer in self.hidden:")
        fwd.append(f"            h = act(layer({drop('h')}))")
        if spec.beta:
            fwd.append("            means.append(h.mean(0))")
    if spec.beta:
        fwd.append("        self.hidden_means = means")
    needed = _terms(spec)[2]
    if sampled:
        positives = ['batch["y_idx"]']
        if spec.split_mode != "predictor" and spec.wa1:
            positives.append('batch["x_idx"]')
        fwd += [
            "        if self.training:  # sampled output: the batch's candidate items only",
            f"            cols, weight = sample_candidates([{', '.join(positives)}], self.sampler)",
            f"            scores = item_scores(self.out, {drop('h')}, cols)",
            "            return SampledLogits(scores, cols, weight)",
        ]
    fwd.append(f"        return self.out({drop('h')})")
    fwd_doc = "Logits [B, N_ITEMS] (scores before Sigm)."
    if spec.beta:
        fwd_doc += "\n        Keeps each hidden layer's mean activation for the KL penalty."
    if spec.sharded:
        fwd_doc += (
            "\n        On several devices the logits are ShardedLogits (per-device item blocks)."
        )
    if sampled:
        what = "Y and X" if len(positives) > 1 else "Y"
        fwd_doc += (
            "\n        In training (sampled output): SampledLogits over the batch's positives "
            f"({what})\n        and NEGATIVES sampled items (sample_candidates), "
            "never [B, N_ITEMS]."
        )
    returns = "torch.Tensor | SampledLogits" if sampled else "torch.Tensor"
    loss_params = f"self, batch: dict[str, torch.Tensor], logits: {returns}"

    targets = _cost_lines(spec, sampled=False)
    loss_doc = {
        "predictor": "Weighted cross-entropy (eq. 3) against Y: w1 on bought, w0 on not-bought\n"
        "        products; summed over products, averaged over the batch.",
        "equal": "Equally weighted cost (eq. 7-9 with Td(., to) = 1): auto term (X positives\n"
        "        weighted WA1, products outside XY weighted WA0) + predict term (Y weighted WP1,\n"
        "        products outside Y weighted WP0); summed over products, averaged over the batch.",
        "soft": "Soft-split cost (eq. 7-9): auto term (X positives weighted WA1 * Td(age, TO),\n"
        "        products outside XY weighted WA0) + predict term (Y weighted WP1, products\n"
        "        outside Y weighted WP0); summed over products, averaged over the batch.",
    }[spec.split_mode]
    if spec.loss == "softmax":
        loss_doc = {
            "predictor": "Multinomial likelihood (Mult-DAE, Liang et al. 2018, eq. 2) against Y:\n"
            "        -sum_p share(y)_p log softmax(logits)_p, averaged over the batch.",
            "equal": "Equally weighted cost with a multinomial likelihood (eq. 7-9 read with a\n"
            "        softmax output): -sum_p (WA1 share(x) + WP1 share(y))_p log softmax_p,\n"
            "        averaged over the batch (no negative terms).",
            "soft": "Soft-split cost with a multinomial likelihood (eq. 7-9 read with a softmax\n"
            "        output): -sum_p (WA1 share(x Td(age, TO)) + WP1 share(y))_p log softmax_p,\n"
            "        averaged over the batch (no negative terms).",
        }[spec.split_mode]
    dispatch = []
    if sampled:
        loss_doc += (
            "\n        Training with a sampled output: the same cost over the candidate items."
        )
        dispatch += [
            "        if isinstance(logits, SampledLogits):",
            "            return self.sampled_loss(batch, logits)",
        ]
    if spec.sharded:
        loss_doc += "\n        ShardedLogits go to the shard-aware loss (same value)."
        _, _, _, used = _terms(spec)
        kwargs = ["batch", "logits", f'split_mode="{spec.split_mode}"']
        if spec.loss == "softmax":
            kwargs.append('loss="softmax"')
        kwargs += [f"{name.lower()}={name}" for name in used]
        if "recent" in needed:
            kwargs.append("to=TO")
        dispatch += [
            "        if not isinstance(logits, torch.Tensor):  # ShardedLogits: shard-aware loss",
            call("return predictor_sharded_data_loss", ", ".join(kwargs), "            "),
        ]
    data_loss = (
        signature("data_loss", loss_params, "torch.Tensor") + "\n"
        f'        """{loss_doc}"""\n' + "\n".join(dispatch + targets) + "\n"
    )
    if sampled:
        data_loss += (
            "\n"
            + signature(
                "sampled_loss",
                "self, batch: dict[str, torch.Tensor], logits: SampledLogits",
                "torch.Tensor",
            )
            + "\n"
            + (
                '        """The cost over the candidate items of a training batch (sampled '
                "output): the\n        positives' terms exact, each sampled item's negative term "
                "times its weight, an\n        unbiased estimate of the sum over every item "
                'outside the positives."""\n'
                if spec.loss == "bce"
                else '        """Sampled softmax over the candidate items of a training batch: '
                "the log-partition\n        is estimated by logsumexp of z + log weight (the "
                "logQ correction; exact for the\n        positives, which are all "
                'candidates)."""\n'
            )
            + "\n".join(_cost_lines(spec, sampled=True))
            + "\n"
        )

    pen_terms = []
    pen_doc = []
    norm_lines = []
    if spec.l2:
        pen_terms.append("L2 * torch.stack(norms).sum()")
        out_rows = "cols" if sampled else "None"
        if sampled:
            doc = (
                "lambda sum_j |W_j|^2 over weight matrices: exact on the hidden layers; "
                "lazy on the\n"
                "        item-sized tables with row-sparse gradients (the input table; "
                "the output layer in\n"
                "        training, over the candidate items): only the rows this batch "
                "touches are\n"
                "        penalised, the standard lazy-regularisation approximation of eq. 3's\n"
                "        lambda sum |W|^2 (its gradient would make every row's update dense)"
            )
        else:
            doc = (
                "lambda sum_j |W_j|^2 over weight matrices: exact on the hidden and output "
                "layers;\n        lazy on the item-sized input table (row-sparse gradient): "
                "only the rows of this\n        batch's purchases are penalised, the standard "
                "lazy-regularisation approximation\n        of eq. 3's lambda sum |W|^2 (its "
                "gradient would make every row's update dense)"
            )
        if spec.sharded:
            doc += "; shards'\n        parts summed on the primary device"
        pen_doc.append(doc)
        if sampled:
            norm_lines.append(
                "        cols = logits.cols if isinstance(logits, SampledLogits) else None"
            )
        norm_lines.append(
            f'        norms = [item_sq_norm(self.input.bag, batch["x_idx"]), '
            f"item_sq_norm(self.out, {out_rows})]"
        )
        if deep:
            norm_lines.append(
                "        norms += [layer.weight.pow(2).sum() for layer in self.hidden]"
            )
    if spec.beta:
        pen_terms.append("BETA * torch.stack([kl_sparsity(m) for m in self.hidden_means]).sum()")
        pen_doc.append("beta sum_j KL(rho, rho_hat_j) over hidden layers (latest forward)")
    if pen_terms:
        lines = "\n".join(f"        penalty = penalty + {t}" for t in pen_terms[1:])
        pen_text = " +\n        ".join(pen_doc)
        norms_line = "".join(line + "\n" for line in norm_lines)
        reg = f'''
{signature("penalty", loss_params, "torch.Tensor")}
        """Penalties (eq. 3/6):
        {pen_text}."""
{norms_line}        penalty = {pen_terms[0]}
{lines + chr(10) if lines else ""}        return penalty

{signature("loss", loss_params, "torch.Tensor")}
        """Data loss + penalties."""
        return self.data_loss(batch, logits) + self.penalty(batch, logits)
'''
    else:
        reg = f'''
{signature("loss", loss_params, "torch.Tensor")}
        """Data loss (no regulariser: l2 = beta = 0)."""
        return self.data_loss(batch, logits)
'''
    init_body = "\n".join(init) + "\n"
    fwd_body = "\n".join(fwd) + "\n"
    prior = item_prior_method("self.out", PRIOR_DOC, spec.sharded)
    return f'''\
class Net(nn.Module):
    """Predictor / auto-encoder: forward(batch) -> logits; loss(batch, logits) -> scalar."""

    def __init__(self, devices: tuple[str, ...] = ("cpu",)) -> None:
        super().__init__()
{init_body}
{_input_weight(spec)}
    def forward(self, batch: dict[str, torch.Tensor]) -> {returns}:
        """{fwd_doc}"""
{fwd_body}
{prior}{data_loss}{reg}'''


#: Net.init_item_prior's docstring (the output bias B_L).
PRIOR_DOC = """Set the output layer's bias B_L to the items' prior log-odds log(p / (1 - p)), p an
        item's frequency among the training targets (a standard output-bias initialisation):
        the untrained network then predicts each item's base rate instead of Sigm(0) = 1/2,
        so training starts from popularity rather than from a loss dominated by the bias."""


def render_predictor(spec: PredictorSpec) -> str:
    _, _, needed, _ = _terms(spec)
    sampled = spec.output == "sampled"
    blocks = [
        header(spec, TITLE) + "\n" + imports(spec) + "\n" + _constants(spec),
        activation(spec.activation),
        sharded_body() if spec.sharded else "",
        factories(spec),
        BAG_HELPERS,
        ITEM_SQ_NORM if spec.l2 else "",
        SAMPLED if sampled else "",
        TD if _uses_td(spec) else "",
        RECENT if "recent" in needed else "",
        SHARE if spec.loss == "softmax" else "",
        KL if spec.beta else "",
        LEARNT_DECAY if spec.decay_mode == "learnt" else "",
        SPARSE_INPUT,
        _net(spec),
    ]
    return join(blocks)

"""Renders a :class:`PredictorSpec` as the source of a torch module (soft-split paper, eq. 3-9).

The file is composition: a config, the network and the family loss of ``codegen/runtime.py``.
Only the parts a spec uses are emitted: the decay of its ``decay_mode``, the cost weights of
its ``split_mode`` and ``loss``, noise / dropout / KL code only when non-zero.
"""

from __future__ import annotations

import textwrap

from codegen._common import activation, config, header, join
from codegen.spec import PredictorSpec

TITLE = '''\
"""Predictor / auto-encoder over a customer's purchase history (Vorobev et al., "Inferring the
strength of implicit preferences ...": soft-split paper, eq. 3-9).

    A_0 = w(x) + xi;  A_j = Drop(Act(W_j A_{j-1} + B_j));  Y_hat = Sigm(W_L A_{L-1} + B_L)

The input A_0 is sparse: layer 1 is an EmbeddingBag with one weight per purchase (never a
dense P-wide matrix). forward returns the logits W_L A_{L-1} + B_L; Sigm lives in the loss.
"""
'''


def _weights(spec: PredictorSpec) -> list[tuple[str, float, str]]:
    """The cost weights the spec's split mode and loss use (non-zero ones; the rest are 0)."""
    if spec.loss == "softmax":
        if spec.split_mode == "predictor":
            return []
        rows = [("wa1", spec.wa1, "auto term: weight of X's share"), ("wp1", spec.wp1, "Y's")]
    elif spec.split_mode == "predictor":
        rows = [("w1", spec.w1, "bought products (eq. 3)"), ("w0", spec.w0, "not bought")]
    else:
        rows = [
            ("wa1", spec.wa1, "auto term: past purchases X (eq. 8)"),
            ("wa0", spec.wa0, "auto term: products outside XY"),
            ("wp1", spec.wp1, "predict term: future purchases Y (eq. 9)"),
            ("wp0", spec.wp0, "predict term: products outside Y"),
        ]
    return [(name, value, comment) for name, value, comment in rows if value]


def _config(spec: PredictorSpec) -> str:
    rows: list[tuple[str, object, str]] = [
        ("n_items", spec.n_items, "products P (input and output)"),
        ("units", spec.units, "hidden units of layers 1..L-1"),
    ]
    optional: list[tuple[str, object, object, str]] = [
        ("noise", spec.noise, 0.0, "std of the Gaussian noise xi on input weights"),
        ("dropout", spec.dropout, 0.0, "dropout on hidden activations"),
        ("input_dropout", spec.input_dropout, 0.0, "probability of dropping an input purchase"),
        ("input_norm", spec.input_norm, False, "divide input weights by their L2 norm"),
        ("decay_mode", spec.decay_mode, "none", "input time decay (eq. 4/5)"),
        ("split_mode", spec.split_mode, "predictor", "cost: eq. 3 or eq. 7-9"),
        ("loss", spec.loss, "bce", "multinomial likelihood (Mult-DAE)"),
    ]
    rows += [(n, v, c) for n, v, default, c in optional if v != default]
    if spec.decay_mode == "parametric":
        rows.append(("ti", spec.ti, "input time decay Td(age, ti), days (eq. 5/6)"))
    rows += _weights(spec)
    if spec.split_mode == "soft" and spec.wa1:
        rows.append(("to", spec.to, "output time decay Td(age, to) of the auto term, days"))
    if spec.l2:
        rows.append(("l2", spec.l2, "lambda: L2 penalty on weight matrices"))
    if spec.beta:
        rows.append(("beta", spec.beta, "weight of the KL sparsity penalty"))
        rows.append(("rho", spec.rho, "target mean activation of hidden units"))
    if spec.output == "sampled":
        rows.append(("output", "sampled", "training scores the batch's candidates only"))
        rows.append(("negatives", spec.negatives, "items sampled per training batch"))
    return config(spec, "PredictorConfig", rows)


def _input_weight(spec: PredictorSpec) -> str:
    expr, what = {
        "none": ("torch.ones_like(age)", "1 per purchase (no time decay)"),
        "parametric": ("rt.td(age, self.config.ti)", "Td(age, ti) (eq. 5/6)"),
        "learnt": ("self.decay(age)", "the learnt weight of its age bin (eq. 4)"),
    }[spec.decay_mode]
    lines = []
    if spec.input_norm:
        what += ", over the L2 norm of the customer's weights"
        lines += [
            '        rows = rt.bag_rows(batch["x_offsets"], len(weight))',
            '        norm = torch.zeros(len(batch["x_offsets"]), dtype=weight.dtype, '
            "device=weight.device)",
            "        norm = norm.index_add(0, rows, weight * weight).sqrt()",
            "        weight = weight / norm.clamp(min=1e-12)[rows]",
        ]
    if spec.input_dropout:
        what += ", dropped with probability input_dropout in training (Mult-DAE)"
        lines.append(
            "        weight = nn.functional.dropout(weight, self.config.input_dropout, "
            "self.training)"
        )
    if spec.noise:
        what += ", plus Gaussian noise xi in training"
        lines += [
            "        if self.training:",
            "            weight = weight + self.config.noise * torch.randn_like(weight)",
        ]
    body = "".join(line + "\n" for line in lines)
    doc = f"A_0 entry of each purchase: {what}."
    doc = textwrap.fill(doc, 88, subsequent_indent="        ")
    return f'''\
    def input_weight(self, batch: rt.Batch) -> torch.Tensor:
        """{doc}"""
        age = batch["x_age"]
        weight = {expr}
{body}        return weight
'''


def _net(spec: PredictorSpec) -> str:
    sampled = spec.output == "sampled"
    drop = "self.drop(h)" if spec.dropout else "h"
    init = []
    if spec.decay_mode == "learnt":
        init.append(
            "        self.decay = rt.LearntDecay(devices)  # eq. 4: 32 bins of 730 / 32 days"
        )
    init += [
        "        self.input = rt.item_input(config.n_items, config.units[0], devices)  # W_1",
        "        self.bias = nn.Parameter(torch.zeros(config.units[0], device=devices[0]))  # B_1",
    ]
    if spec.layers > 1:
        init += [
            "        self.hidden = nn.ModuleList(",
            "            nn.Linear(a, b, device=devices[0])",
            "            for a, b in zip(config.units, config.units[1:], strict=False)",
            "        )",
        ]
    if spec.dropout:
        init.append("        self.drop = nn.Dropout(config.dropout)")
    sparse = ', sparse=config.output == "sampled"' if sampled else ""
    out = f"        self.out = rt.item_output(config.units[-1], config.n_items, devices{sparse})"
    if len(out) > 100:
        out = (
            "        self.out = rt.item_output(\n"
            f"            config.units[-1], config.n_items, devices{sparse}\n        )"
        )
    init.append(out)
    if sampled:
        init.append("        self.sampler = rt.Sampler(config.n_items, config.negatives)")
    init_text = "\n".join(init) + "\n"

    means = spec.beta > 0
    fwd = [
        "        weight = self.input_weight(batch)",
        '        h = act(self.input(batch["x_idx"], batch["x_offsets"], per_sample_weights=weight) '
        "+ self.bias)",
    ]
    fwd[1] = (
        "        h = act(\n"
        '            self.input(batch["x_idx"], batch["x_offsets"], per_sample_weights=weight) '
        "+ self.bias\n        )"
    )
    if means:
        fwd.append("        means = [h.mean(0)]  # for the KL sparsity penalty")
    if spec.layers > 1:
        fwd += ["        for layer in self.hidden:", f"            h = act(layer({drop}))"]
        if means:
            fwd.append("            means.append(h.mean(0))")
    fwd += ["        if not self.training:", f"            return self.out({drop})"]
    if sampled:
        positives = ['batch["y_idx"]']
        if spec.split_mode != "predictor" and spec.wa1:
            positives.append('batch["x_idx"]')
        fwd += [
            f"        cols, weight = self.sampler([{', '.join(positives)}])",
            f"        scores = rt.item_scores(self.out, {drop}, cols)",
            "        logits = rt.SampledLogits(scores, cols, weight)",
        ]
        logits = "logits"
    else:
        logits = f"self.out({drop})"
    fwd.append(
        f"        return rt.TrainOut({logits}, means=means)"
        if means
        else f"        return rt.TrainOut({logits})"
    )
    fwd_doc = "Logits [B, N] (ShardedLogits on several devices); in training an rt.TrainOut"
    fwd_doc += (
        "\n        over the batch's positives and sampled items (rt.sample_candidates)."
        if sampled
        else "."
    )

    pen = []
    if spec.l2:
        pen += [
            '        lazy = [(self.input, batch["x_idx"]), (self.out, rt.candidates(out))]',
            "        penalty = rt.l2_penalty(self, lazy, self.config.l2)",
        ]
    if spec.beta:
        pen.append("        means = rt.train_out(out).means  # hidden layers' mean activations")
        kl = "self.config.beta * rt.kl_sparsity(means, self.config.rho)"
        pen.append(f"        penalty = penalty + {kl}" if spec.l2 else f"        penalty = {kl}")
    if pen:
        loss_doc = (
            "The cost (rt.predictor_loss: eq. 3, 7-9 or the multinomial likelihood) + penalties\n"
            "        (eq. 3/6): L2, exact on the hidden layers and lazy on the item-sized layers\n"
            "        (the rows this batch reads); beta * KL(rho, mean activation)."
        )
        loss_body = (
            "\n".join(pen)
            + "\n        return rt.predictor_loss(self.config, batch, out) + penalty\n"
        )
    else:
        loss_doc = (
            "The cost (rt.predictor_loss: eq. 3, 7-9 or the multinomial likelihood; l2 = beta\n"
            "        = 0: no penalty)."
        )
        loss_body = "        return rt.predictor_loss(self.config, batch, out)\n"
    return f'''\
class Net(nn.Module):
    """Predictor / auto-encoder: forward(batch) -> logits; loss(batch, out) -> scalar."""

    def __init__(
        self, config: rt.PredictorConfig = CONFIG, devices: tuple[str, ...] = DEVICES
    ) -> None:
        super().__init__()
        self.config = config
{init_text}
{_input_weight(spec)}
    def forward(self, batch: rt.Batch) -> rt.Out:
        """{fwd_doc}"""
{chr(10).join(fwd)}

    def init_item_prior(self, log_odds: torch.Tensor) -> None:
        """Output bias B_L := the items' prior log-odds (p = an item's share of the training
        targets): the untrained network predicts each item's base rate, not Sigm(0) = 1/2."""
        rt.init_item_bias(self.out, log_odds)

    def loss(self, batch: rt.Batch, out: rt.Out) -> torch.Tensor:
        """{loss_doc}"""
{loss_body}'''


def render_predictor(spec: PredictorSpec) -> str:
    blocks = [
        header(spec, TITLE) + "\n" + _config(spec),
        activation(spec.activation),
        _net(spec),
    ]
    return join(blocks)

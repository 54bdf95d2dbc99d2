"""A tiny hand-written torch-only ``model.py`` (the generated-source contract: ``class Net``,
``forward(batch) -> logits``) and a bundle built from it, for export/recommend tests that
must not depend on the code generator."""

from __future__ import annotations

from pathlib import Path

import torch

from autorec.export import BundleContents, gather_state_dict, write_bundle
from autorec.export._bundle import import_model_module

TINY_MODEL = '''"""Tiny predictor: sparse input (EmbeddingBag, decayed by age) -> item logits."""
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, n_items: int = 6, hidden: int = 4) -> None:
        super().__init__()
        self.inp = nn.EmbeddingBag(n_items, hidden, mode="sum")
        self.decay = nn.Parameter(torch.tensor(0.1))
        self.out = nn.Linear(hidden, n_items)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        w = torch.exp(-self.decay.abs() * batch["x_age"])
        h = torch.tanh(self.inp(batch["x_idx"], batch["x_offsets"], per_sample_weights=w))
        return self.out(h)
'''

ITEMS = ["i0", "i1", "i2", "i3", "i4", "i5"]


def tiny_contents(tmp: Path, seed: int = 0) -> BundleContents:
    src = tmp / "tiny_model.py"
    src.write_text(TINY_MODEL)
    module = import_model_module(src)
    torch.manual_seed(seed)
    model = module.Net(n_items=len(ITEMS), hidden=4)
    return BundleContents(
        family="predictor",
        genome={"family": "predictor", "layers": 1, "units_1": 4},
        genome_key=f"tiny{seed}",
        model_source=TINY_MODEL,
        state_dict=gather_state_dict(model),
        net_kwargs={"n_items": len(ITEMS), "hidden": 4},
        dims={"n_pages": 0, "n_items": len(ITEMS), "n_users": 3},
        item_ids=ITEMS,
        metrics={"test": {"precision@10": 0.5}},
        data_card={"protocol": "purchases", "source": "hand-written"},
    )


def tiny_bundle(tmp: Path, name: str = "bundle", seed: int = 0) -> Path:
    out = tmp / name
    write_bundle(tiny_contents(tmp, seed), out)
    return out

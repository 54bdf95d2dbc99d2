"""GRU-class session baselines: a GRU over the prefix's pages and a softmax over the items
(the GRU4Rec family, Hidasi et al. 2016), with or without a learnt copy score on the items
viewed in the prefix (the pointer idea of RepeatNet, Ren et al. 2019, in its simplest form).

They are the neural peers a session search must beat; ``session-views`` (copy only, no
learning) and ``gru`` (no copy) bracket ``gru-copy``.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch
from torch import nn

from autorec.baselines._base import Baseline, prefix_views
from autorec.data import session_samples
from autorec.data.types import (
    CustomerExamples,
    PurchaseData,
    SessionData,
    SessionLog,
    SessionSamples,
)

__all__ = ["GRUCopySession", "GRUNet", "GRUSession", "copy_features", "prefix_pages"]

_G = TypeVar("_G", bound="GRUSession")

#: initial copy weights (viewed, log(1 + views), viewed last)
COPY_INIT = (4.0, 2.0, 1.0)


def prefix_pages(
    log: SessionLog, samples: SessionSamples, max_len: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``[n, L]`` page indices + 1 (0 pads on the right) of each sample's prefix, its last
    ``max_len`` pages at most, and the lengths ``[n]`` (L = the longest kept prefix)."""
    length = np.minimum(np.asarray(samples.length, dtype=np.int64), max_len)
    n = length.size
    width = int(length.max(initial=1))
    end = log.page_ptr[samples.session] + np.asarray(samples.length, dtype=np.int64)
    cols = np.arange(width, dtype=np.int64)[None, :]
    idx = (end - length)[:, None] + cols
    valid = cols < length[:, None]
    pages = np.where(valid, log.page[np.where(valid, idx, 0)] + 1, 0)
    return torch.from_numpy(pages.reshape(n, width)), torch.from_numpy(np.maximum(length, 1))


def copy_features(log: SessionLog, samples: SessionSamples, n_items: int) -> torch.Tensor:
    """``[n, n_items, 3]`` features of each item in each prefix: viewed (0/1), log(1 + view
    count), viewed on the prefix's last page (0/1). Zero for items not viewed."""
    n = len(samples.session)
    views = prefix_views(log, samples)
    feats = np.zeros((n, n_items, 3), dtype=np.float32)
    np.add.at(feats[:, :, 1], (views.row, views.item), 1.0)
    feats[:, :, 0] = feats[:, :, 1] > 0
    feats[:, :, 1] = np.log1p(feats[:, :, 1])
    last = views.position == np.asarray(samples.length)[views.row]
    feats[views.row[last], views.item[last], 2] = 1.0
    return torch.from_numpy(feats)


class GRUNet(nn.Module):
    """Page embedding -> GRU -> item logits; with ``copy``, each viewed item also gets
    ``g(h) + w · features`` (a gate from the last hidden state plus learnt weights of
    :func:`copy_features`)."""

    def __init__(self, n_pages: int, n_items: int, embedding: int, hidden: int, copy: bool):
        super().__init__()
        self.embed = nn.Embedding(n_pages + 1, embedding, padding_idx=0)
        self.gru = nn.GRU(embedding, hidden, batch_first=True)
        self.out = nn.Linear(hidden, n_items)
        self.copy = copy
        if copy:
            self.gate = nn.Linear(hidden, 1)
            # start from session-views' order (viewed first, more views first, the last page
            # breaking ties): from zero, one epoch of the item softmax over 15k items
            # overfits before the three copy weights are learnt (measured on the
            # YOOCHOOSE sample: validation top-1 0.38 after epoch 1, falling after)
            self.copy_w = nn.Parameter(torch.tensor(COPY_INIT))

    def forward(
        self, pages: torch.Tensor, length: torch.Tensor, feats: torch.Tensor | None
    ) -> torch.Tensor:
        packed = nn.utils.rnn.pack_padded_sequence(
            self.embed(pages), length, batch_first=True, enforce_sorted=False
        )
        _, h = self.gru(packed)
        last = h[-1]
        logits: torch.Tensor = self.out(last)
        if self.copy and feats is not None:
            viewed = feats[:, :, 0]
            logits = logits + viewed * self.gate(last) + feats @ self.copy_w
        return logits


class GRUSession(Baseline):
    """A GRU over the pages of the prefix, softmax over the items (session protocol only).

    Trained on every prefix of the training sessions that bought something (the shortened-
    path samples of the DRNN paper), loss = the mean over a prefix's bought items of
    ``-log softmax`` (the multinomial cross-entropy the DRNN genomes use), Adam. After every
    epoch the validation prefixes' top-1 accuracy is measured; training stops after
    ``patience`` epochs without improvement (or ``epochs``), and the best epoch's weights are
    kept (:meth:`describe` reports it). Prefixes are cut to their last ``max_len`` pages.

    Fitted with :meth:`fit` on a :class:`SessionData`, the validation split drives the early
    stop; :meth:`fit_sessions` alone trains ``epochs`` epochs without one.

    Hyper-parameters: ``embedding`` (64), ``hidden`` (100), ``epochs`` (10), ``patience`` (2),
    ``batch`` (128), ``lr`` (0.003), ``max_len`` (50), ``seed`` (0).
    """

    name: ClassVar[str] = "gru"
    supports_purchases: ClassVar[bool] = False
    use_copy: ClassVar[bool] = False

    def __init__(
        self,
        embedding: int = 64,
        hidden: int = 100,
        epochs: int = 10,
        patience: int = 2,
        batch: int = 128,
        lr: float = 0.003,
        max_len: int = 50,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if min(embedding, hidden, epochs, patience, batch, max_len) < 1 or lr <= 0:
            raise ValueError("sizes, epochs, patience, batch and max_len must be >= 1, lr > 0")
        self.embedding, self.hidden = int(embedding), int(hidden)
        self.epochs, self.patience, self.batch = int(epochs), int(patience), int(batch)
        self.lr, self.max_len, self.seed = float(lr), int(max_len), int(seed)
        self.net: GRUNet | None = None
        self.history: list[float] = []  # validation top-1 per epoch (with fit())
        self.best_epoch: int | None = None
        self.n_train_samples = 0

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "embedding": self.embedding,
            "hidden": self.hidden,
            "epochs": self.epochs,
            "patience": self.patience,
            "batch": self.batch,
            "lr": self.lr,
            "max_len": self.max_len,
            "seed": self.seed,
            "n_train_samples": self.n_train_samples,
            "best_epoch": self.best_epoch,
            "val_top1_per_epoch": [round(x, 6) for x in self.history],
        }

    def fit(self: _G, data: SessionData | PurchaseData, *, validation: bool = False) -> _G:
        from autorec.families import family_of

        if not getattr(self, f"supports_{family_of(data).data_kind}", False):
            return super().fit(data, validation=validation)  # raises: sessions only
        sessions: Any = data  # session data: the family accepted it
        self._valid = (sessions.split.valid, sessions.valid_samples)
        try:
            return super().fit(data, validation=validation)
        finally:
            del self._valid

    def _fit_sessions(self, train: SessionLog, history: tuple[SessionLog, ...]) -> None:
        # one intra-op thread: a batch's kernels are small (128 prefixes), and on the loaded
        # 2-core machine a step took 2.96 s on 2 threads vs 0.29 s on 1 (YOOCHOOSE sample)
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            self._train_net(train)
        finally:
            torch.set_num_threads(before)

    def _train_net(self, train: SessionLog) -> None:
        torch.manual_seed(self.seed)
        n_items = len(train.items)
        samples = session_samples(train)
        self.n_train_samples = len(samples.session)
        net = GRUNet(len(train.pages), n_items, self.embedding, self.hidden, self.use_copy)
        self.net = net
        opt = torch.optim.Adam(net.parameters(), lr=self.lr)
        rng = np.random.default_rng(self.seed)
        valid: tuple[SessionLog, SessionSamples] | None = getattr(self, "_valid", None)
        best: tuple[float, dict[str, torch.Tensor]] | None = None
        self.history = []
        for epoch in range(self.epochs):
            net.train()
            order = rng.permutation(self.n_train_samples)
            for start in range(0, order.size, self.batch):
                rows = order[start : start + self.batch]
                batch = SessionSamples(samples.session[rows], samples.length[rows])
                loss = self._loss(train, batch, n_items)
                opt.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]
                opt.step()
            if valid is None:
                continue
            top1 = self._val_top1(*valid)
            self.history.append(top1)
            if best is None or top1 > best[0]:
                best = (top1, copy.deepcopy(net.state_dict()))
                self.best_epoch = epoch
            elif epoch - (self.best_epoch or 0) >= self.patience:
                break
        if best is not None:
            net.load_state_dict(best[1])
        else:
            self.best_epoch = self.epochs - 1
        net.eval()

    def _logits(self, log: SessionLog, samples: SessionSamples, n_items: int) -> torch.Tensor:
        assert self.net is not None
        pages, length = prefix_pages(log, samples, self.max_len)
        feats = copy_features(log, samples, n_items) if self.use_copy else None
        logits: torch.Tensor = self.net(pages, length, feats)
        return logits

    def _loss(self, log: SessionLog, samples: SessionSamples, n_items: int) -> torch.Tensor:
        logp = torch.log_softmax(self._logits(log, samples, n_items), dim=1)
        n_buy = np.diff(log.buy_ptr)[samples.session]
        row = np.repeat(np.arange(len(samples.session)), n_buy)
        start = np.repeat(log.buy_ptr[samples.session], n_buy)
        local = np.arange(int(n_buy.sum())) - np.repeat(np.cumsum(n_buy) - n_buy, n_buy)
        item = log.buy[start + local]
        weight = torch.from_numpy(1.0 / n_buy[row]).float()
        picked = logp[torch.from_numpy(row), torch.from_numpy(item)]
        return -(picked * weight).sum() / len(samples.session)

    def _val_top1(self, log: SessionLog, samples: SessionSamples) -> float:
        from autorec.evaluation import evaluate_sessions

        assert self.net is not None
        self.net.eval()
        return evaluate_sessions(self, log, samples, ks=(1,))["top1"]

    def _score_sessions(self, log: SessionLog, samples: SessionSamples) -> np.ndarray:
        n_items = len(log.items)
        with torch.no_grad():
            return self._logits(log, samples, n_items).double().numpy()

    def _score_customers(self, examples: CustomerExamples) -> np.ndarray:
        raise RuntimeError("the GRU baselines rank sessions only")


class GRUCopySession(GRUSession):
    """:class:`GRUSession` plus a learnt copy score on the items viewed in the prefix: a
    viewed item's logit gets ``g(h) + w₁·1 + w₂·log(1+views) + w₃·[viewed last]``, ``g`` a
    linear gate of the GRU's last state (:class:`GRUNet`)."""

    name: ClassVar[str] = "gru-copy"
    use_copy: ClassVar[bool] = True

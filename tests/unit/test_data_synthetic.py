"""Synthetic data: seeded, fast, and shaped like the real thing (never presented as real)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from autorec.data import (
    build_purchase_log,
    build_session_log,
    load_events,
    session_samples,
    synthesize_purchases,
    synthesize_sessions,
)


def test_seeded_and_deterministic() -> None:
    a = synthesize_sessions(np.random.default_rng(7), n_sessions=200)
    b = synthesize_sessions(np.random.default_rng(7), n_sessions=200)
    c = synthesize_sessions(np.random.default_rng(8), n_sessions=200)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert not a.frame.equals(c.frame)
    p = synthesize_purchases(np.random.default_rng(7), n_customers=100)
    q = synthesize_purchases(np.random.default_rng(7), n_customers=100)
    pd.testing.assert_frame_equal(p.frame, q.frame)
    assert a.source.startswith("synthetic:") and p.source.startswith("synthetic:")


def test_sessions_lead_to_purchases() -> None:
    start = time.perf_counter()
    events = synthesize_sessions(np.random.default_rng(0))
    assert time.perf_counter() - start < 2.0
    log = build_session_log(events)
    assert events.kind == "sessions" and log.n_sessions == 3000
    assert len(log.items) <= 300 and (log.page_item < 0).sum() == 41  # 40 categories + home
    n_buys = np.diff(log.buy_ptr)
    assert 0.3 < (n_buys > 0).mean() < 0.6
    # Repeat users: most sessions belong to users with several sessions.
    per_user = np.bincount(log.user)
    assert (per_user[log.user] > 1).mean() > 0.8
    # The bought item is the last page viewed, and it is dwelt on longer than other products.
    last_page = log.page[log.page_ptr[1:] - 1]
    buyers = np.flatnonzero(n_buys > 0)
    assert np.array_equal(log.page_item[last_page[buyers]], log.buy[log.buy_ptr[buyers]])
    session_of_view = np.repeat(np.arange(log.n_sessions), np.diff(log.page_ptr))
    bought_page = np.zeros(len(log.page), dtype=bool)
    for s in buyers[:300]:
        lo, hi = log.page_ptr[s], log.page_ptr[s + 1] - 1  # last view has θ=0: exclude
        bought_page[lo:hi] = log.page_item[log.page[lo:hi]] == log.buy[log.buy_ptr[s]]
    inside = np.isin(session_of_view, buyers[:300])
    product = log.page_item[log.page] >= 0
    not_last = np.ones(len(log.page), dtype=bool)
    not_last[log.page_ptr[1:] - 1] = False
    other = inside & product & ~bought_page & not_last
    assert np.median(log.dwell[bought_page]) > 2 * np.median(log.dwell[other])
    assert len(session_samples(log).session) > 5000


def test_purchases_long_tail_drift_and_december_spike() -> None:
    start = time.perf_counter()
    events = synthesize_purchases(np.random.default_rng(0))
    assert time.perf_counter() - start < 2.0
    log = build_purchase_log(events)
    assert events.kind == "purchases"
    assert (log.time.max() - log.time.min()) > 365 * 86400
    counts = np.sort(np.bincount(log.item))[::-1]
    assert counts[: len(counts) // 5].sum() > 0.5 * counts.sum()  # top 20 % > half the buys
    stamps = pd.to_datetime(log.time, unit="s", utc=True)
    per_month = np.bincount(stamps.month, minlength=13)[1:]
    assert per_month[11] > 2 * np.median(per_month)  # yearly December spike
    # Drift: the most bought products of the first and the last quarter differ.
    year = stamps.year.to_numpy()
    first = np.bincount(log.item[(year == 2022) & (stamps.month <= 3)], minlength=len(log.items))
    last = np.bincount(log.item[(year == 2023) & (stamps.month >= 10)], minlength=len(log.items))
    top_first, top_last = set(np.argsort(-first)[:20]), set(np.argsort(-last)[:20])
    assert len(top_first & top_last) < 15


def test_default_synthetic_is_the_facade_default() -> None:
    assert load_events(None).source == "synthetic:sessions(seed=0)"
    assert load_events(None, kind="purchases").kind == "purchases"

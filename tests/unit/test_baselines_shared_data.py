"""Baselines on the real data in ../shared/data (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autorec.baselines import make_baseline
from autorec.evaluation import evaluate_customers, evaluate_sessions

pytestmark = pytest.mark.shared_data

ML_SPLIT = "1997-09-19,1998-03-26,1998-04-09,1998-04-23"


def test_ml100k_popularity_figures(shared_data: Path) -> None:
    from autorec.data import load_purchase_data

    data = load_purchase_data(shared_data / "ml-100k" / "ml-100k.inter", ML_SPLIT)
    proto = data.protocol
    # Cross-checked with an independent pandas computation (ratings > 3 are purchases):
    # catalogue = 1,423 items rated > 3 in [1997-09-19, 1998-04-09); test customers = 56
    # (>= 2 purchases in XY, >= 1 purchase of a catalogue item in Z); the popularity top 10
    # (minus each customer's XY items) holds 53 of their Z items -> Precision@10 = 53/560;
    # 19 distinct items among those hits -> PCC@10 = 19/1423.
    assert proto.n_items == 1423
    out = evaluate_customers(make_baseline("popularity").fit(data), proto.test, proto.n_items, 10)
    assert out["n_customers"] == 56
    assert out["precision@10"] == pytest.approx(53 / 560)
    assert out["pcc@10_count"] == 19
    assert out["pcc@10"] == pytest.approx(19 / 1423)


def test_yoochoose_session_views_vs_popularity(shared_data: Path) -> None:
    folder = shared_data / "yoochoose-sample"
    if not (folder / "clicks.csv").is_file():
        pytest.skip(f"{folder} not found")
    from autorec.data import load_session_data

    data = load_session_data(folder, "2014-06-01,2014-06-16")
    log, samples = data.split.test, data.test_samples
    views = evaluate_sessions(make_baseline("session-views").fit(data), log, samples)
    pop = evaluate_sessions(make_baseline("popularity").fit(data), log, samples)
    assert views["n_samples"] == pop["n_samples"] == len(samples.session) > 1000
    # every bought item was viewed earlier in its session: the session's own views are strong
    assert views["top1"] > 0.5 and views["top10"] > 0.8
    assert views["path_compression"] < 0.7
    assert pop["top10"] < views["top10"]
    assert np.isfinite(pop["path_compression"]) and pop["path_compression"] <= 1.0

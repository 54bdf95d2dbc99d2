"""The real public data in ../shared/data (skipped when absent): counts from SOURCE.md."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from autorec.data import (
    describe_events,
    load_events,
    load_purchase_data,
    load_session_data,
    read_events,
)

pytestmark = pytest.mark.shared_data


def test_ml100k_inter(shared_data: Path) -> None:
    path = shared_data / "ml-100k" / "ml-100k.inter"
    start = time.perf_counter()
    events = read_events(path)
    assert time.perf_counter() - start < 3.0
    info = describe_events(events)
    assert events.kind == "purchases"
    assert info["source_rows"] == 100_000
    assert info["purchases"] == 55_375  # ratings > 3
    everything = describe_events(read_events(path, min_rating=0))
    assert (everything["rows"], everything["users"], everything["items"]) == (100_000, 943, 1682)
    assert info["first"].startswith("1997-09-20") and info["last"].startswith("1998-04-22")
    data = load_purchase_data(path, "1997-09-19,1998-03-26,1998-04-09,1998-04-23")
    assert data.protocol.test.n_customers > 0 and data.validation.train.n_customers > 0
    assert data.protocol.n_items == int((data.protocol.popularity > 0).sum())


def test_yoochoose_sample(shared_data: Path) -> None:
    path = shared_data / "yoochoose-sample"
    if not (path / "clicks.csv").is_file():
        pytest.skip(f"{path} not found")
    start = time.perf_counter()
    events = load_events(path)
    info = describe_events(events)
    assert time.perf_counter() - start < 5.0
    assert events.kind == "sessions"
    assert info["views"] == 166_725
    assert info["sessions"] == 44_710
    assert info["purchases"] == 5_406
    assert info["buying_sessions"] == 2_615
    assert info["items"] == 14_802
    data = load_session_data(path, "2014-06-01,2014-06-16")
    parts = data.split
    assert parts.train.n_sessions + parts.valid.n_sessions + parts.test.n_sessions == 44_710
    assert np.all(parts.test.start >= 1_402_876_800)  # 2014-06-16T00:00Z
    assert len(data.test_samples.session) > 0

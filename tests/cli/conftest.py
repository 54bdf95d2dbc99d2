"""Fixtures of the CLI tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="module")
def data_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small synthetic session (25 items) and purchase (about 50 items) logs as CSV."""
    from autorec.data import synthesize_purchases, synthesize_sessions, write_events

    root = tmp_path_factory.mktemp("cli_data")
    sessions = synthesize_sessions(
        np.random.default_rng(0), n_sessions=240, n_items=25, n_categories=5, n_users=40, days=20
    )
    purchases = synthesize_purchases(
        np.random.default_rng(0), n_customers=300, n_items=50, n_categories=5, days=200
    )
    return {
        "drnn": write_events(sessions, root / "sessions.csv"),
        "predictor": write_events(purchases, root / "purchases.csv"),
    }

"""The purchase-history protocol (soft-split paper, Appendix A) on a hand-worked example."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from autorec.data import (
    PurchaseLog,
    SplitDates,
    build_protocol,
    build_purchase_log,
    default_purchase_split,
    load_purchase_data,
    parse_purchase_split,
    read_events,
    shift_month_back,
)
from autorec.errors import AutorecError

# Windows: X=[Jan 1, Jan 11), Y=[Jan 11, Jan 21), XY=[Jan 1, Jan 21), Z=[Jan 21, Jan 31).
SPLIT = "2020-01-01,2020-01-11,2020-01-21,2020-01-31"
PURCHASES = """user_id,item_id,timestamp
A,i1,2020-01-02
A,i2,2020-01-05
A,i3,2020-01-15
A,i4,2020-01-25
A,i1,2020-01-26
B,i1,2020-01-03
B,i1,2020-01-04
B,i2,2020-01-12
B,i3,2020-01-22
C,i2,2020-01-12
C,i5,2020-01-25
D,i6,2020-01-25
E,i1,2019-12-25
E,i2,2020-01-06
E,i3,2020-01-07
E,i7,2020-01-26
"""


@pytest.fixture()
def log(tmp_path: Path) -> PurchaseLog:
    f = tmp_path / "purchases.csv"
    f.write_text(PURCHASES)
    return build_purchase_log(read_events(f))


def _rows(ptr: npt.NDArray[np.int64], values: npt.NDArray[Any]) -> list[list[float]]:
    return [values[ptr[i] : ptr[i + 1]].tolist() for i in range(len(ptr) - 1)]


def test_hand_worked_protocol(log: PurchaseLog) -> None:
    p = build_protocol(log, parse_purchase_split(SPLIT))
    # Catalogue = products bought in XY [Jan 1, Jan 21): i1 (A Jan 2, B Jan 3, B Jan 4 → 3;
    # E's Dec 25 is before dx, A's Jan 26 is in Z), i2 (A, B, C, E → 4), i3 (A Jan 15,
    # E Jan 7 → 2). i4..i7 are bought only in Z: not in the catalogue.
    assert log.items.decode(p.catalogue).tolist() == ["i1", "i2", "i3"]
    assert p.popularity.tolist() == [3, 4, 2]
    # Train (≥2 distinct in X, ≥1 in Y): A has X {i1, i2}, Y {i3} ✓. B: X {i1} only (bought
    # twice, one product) ✗. C: nothing in X ✗. E: X {i2, i3} but nothing in Y ✗.
    assert log.users.decode(p.train.customers).tolist() == ["A"]
    assert _rows(p.train.input_ptr, p.train.input_item) == [[0, 1]]
    # Ages are days to dxy = Jan 11: i1 Jan 2 → 9, i2 Jan 5 → 6.
    assert _rows(p.train.input_ptr, p.train.input_age_days) == [[9.0, 6.0]]
    assert _rows(p.train.target_ptr, p.train.target_item) == [[2]]
    # Test (≥2 distinct in XY, ≥1 catalogue product in Z): A: XY {i1, i2, i3}, Z {i4 (not in
    # the catalogue, dropped), i1} → target {i1} ✓. B: XY {i1, i2}, Z {i3} ✓. C: XY {i2} ✗.
    # E: XY {i2, i3} but Z {i7} is outside the catalogue ✗.
    assert log.users.decode(p.test.customers).tolist() == ["A", "B"]
    assert _rows(p.test.input_ptr, p.test.input_item) == [[0, 1, 2], [0, 1]]
    # Ages to dyz = Jan 21: A i1 19, i2 16, i3 6; B i1 latest purchase Jan 4 → 17, i2 9.
    assert _rows(p.test.input_ptr, p.test.input_age_days) == [[19.0, 16.0, 6.0], [17.0, 9.0]]
    assert _rows(p.test.target_ptr, p.test.target_item) == [[0], [2]]
    assert p.n_items == 3
    assert p.test.input_age_days.dtype == np.float32


def test_max_purchases_and_top_p_clipping(log: PurchaseLog) -> None:
    dates = parse_purchase_split(SPLIT)
    # max 2 distinct inputs: A has 3 in XY → dropped from test; B (2) stays.
    p = build_protocol(log, dates, max_purchases=2, check=False)
    assert log.users.decode(p.test.customers).tolist() == ["B"]
    # P = 2: the two most bought in XY are i2 (4) and i1 (3); i3 (2) is clipped, so B's
    # only Z product is gone (B leaves the test set) and A's Y target i3 too (train empty).
    clipped = build_protocol(log, dates, top_p=2, check=False)
    assert log.items.decode(clipped.catalogue).tolist() == ["i1", "i2"]
    assert clipped.popularity.tolist() == [3, 4]
    assert log.users.decode(clipped.test.customers).tolist() == ["A"]
    assert clipped.train.n_customers == 0
    with pytest.raises(AutorecError, match=r"no train \(X→Y\) customers"):
        build_protocol(log, dates, top_p=2)
    # Ties by item id: P = 1 over counts {i1: 3, i2: 3} keeps i1.
    tie = PurchaseLog(
        user=np.array([0, 0, 0, 1, 1, 1]),
        item=np.array([0, 0, 0, 1, 1, 1]),
        time=np.arange(6),
        users=log.users,
        items=log.items,
    )
    d = SplitDates(*(datetime.fromtimestamp(s, tz=timezone.utc) for s in (0, 2, 4, 10)))
    assert build_protocol(tie, d, top_p=1, check=False).catalogue.tolist() == [0]


def test_validation_is_one_month_back() -> None:
    d = parse_purchase_split("2020-01-31,2020-03-31,2020-04-14,2020-05-31T06:00")
    v = shift_month_back(d)
    utc = timezone.utc
    assert v == SplitDates(
        datetime(2019, 12, 31, tzinfo=utc),
        datetime(2020, 2, 29, tzinfo=utc),
        datetime(2020, 3, 14, tzinfo=utc),
        datetime(2020, 4, 30, 6, tzinfo=utc),
    )


def test_default_split_and_split_errors(log: PurchaseLog) -> None:
    # Last purchase Jan 26 → dz Jan 27, dyz = dz − 14 d = Jan 13, dxy = Jan 13 − 14 d = Dec 30;
    # dx = the first purchase's day, Dec 25.
    d = default_purchase_split(log)
    assert [x.strftime("%Y-%m-%d") for x in (d.dx, d.dxy, d.dyz, d.dz)] == [
        "2019-12-25",
        "2019-12-30",
        "2020-01-13",
        "2020-01-27",
    ]
    with pytest.raises(AutorecError, match="out of order: DX=2020-01-01 is not before DXY"):
        parse_purchase_split("2020-01-01,2020-01-01,2020-01-21,2020-01-31")
    with pytest.raises(AutorecError, match="cannot parse the date 'x'"):
        parse_purchase_split("x,2020-01-11,2020-01-21,2020-01-31")
    with pytest.raises(AutorecError, match="expected DX,DXY,DYZ,DZ"):
        parse_purchase_split("2020-01-01,2020-01-11")


def test_load_purchase_data_facade(tmp_path: Path) -> None:
    data = load_purchase_data(None)  # synthetic purchases, default split
    assert data.source == "synthetic:purchases(seed=0)"
    assert data.protocol.test.n_customers > 50 and data.validation.test.n_customers > 50
    assert data.validation.dates == shift_month_back(data.protocol.dates)
    assert (
        data.protocol.dates.dz - data.protocol.dates.dx
        > (data.protocol.dates.dz - data.protocol.dates.dyz) * 20
    )  # over a year of input
    assert load_purchase_data(None) is data
    f = tmp_path / "p.csv"
    f.write_text(PURCHASES)
    with pytest.raises(AutorecError, match="no train"):
        load_purchase_data(f, "2020-06-01,2020-07-01,2020-08-01,2020-09-01")


# Rolling training windows: X = [Jan 1, Jan 21), Y = [Jan 21, Jan 31), Z = [Jan 31, Feb 10);
# the step dyz - dxy is 10 days.
WINDOWS_SPLIT = "2020-01-01,2020-01-21,2020-01-31,2020-02-10"
WINDOWS_PURCHASES = """user_id,item_id,timestamp
A,i1,2020-01-02
A,i2,2020-01-05
A,i3,2020-01-15
A,i4,2020-01-25
B,i1,2020-01-03
B,i2,2020-01-12
B,i2,2020-01-22
C,i3,2020-01-04
C,i4,2020-01-06
C,i1,2020-02-05
D,i5,2020-02-01
"""


def test_rolling_train_windows_hand_worked(tmp_path: Path) -> None:
    f = tmp_path / "purchases.csv"
    f.write_text(WINDOWS_PURCHASES)
    wlog = build_purchase_log(read_events(f))
    dates = parse_purchase_split(WINDOWS_SPLIT)
    one = build_protocol(wlog, dates)
    three = build_protocol(wlog, dates, train_windows=3)
    # Catalogue = products bought in [Jan 1, Jan 31), the same for every K: i1..i4 (i5 only
    # in Z).
    assert wlog.items.decode(three.catalogue).tolist() == ["i1", "i2", "i3", "i4"]
    assert three.popularity.tolist() == one.popularity.tolist() == [2, 3, 2, 2]
    # k = 0 (the paper's window) X = [Jan 1, Jan 21) -> Y = [Jan 21, Jan 31): A (X {i1, i2,
    # i3}, Y {i4}) and B (X {i1, i2}, Y {i2}); C has no Y. Ages to Jan 21.
    assert wlog.users.decode(one.train.customers).tolist() == ["A", "B"]
    # k = 1: X_1 = [Jan 1, Jan 11) -> Y_1 = [Jan 11, Jan 21): A (X {i1, i2}, Y {i3}, ages to
    # Jan 11: 9 and 6); B has one product in X_1, C none in Y_1. k = 2 would need X_2 =
    # [Jan 1, Jan 1): empty, skipped.
    assert wlog.users.decode(three.train.customers).tolist() == ["A", "B", "A"]
    assert _rows(three.train.input_ptr, three.train.input_item) == [[0, 1, 2], [0, 1], [0, 1]]
    assert _rows(three.train.input_ptr, three.train.input_age_days) == [
        [19.0, 16.0, 6.0],
        [18.0, 9.0],
        [9.0, 6.0],
    ]
    assert _rows(three.train.target_ptr, three.train.target_item) == [[3], [1], [2]]
    assert three.train.n_customers == 3 and one.train.n_customers == 2
    # The test examples (XY -> Z) do not depend on K: C (XY {i3, i4}, Z {i1}).
    assert wlog.users.decode(three.test.customers).tolist() == ["C"]
    assert _rows(three.test.input_ptr, three.test.input_item) == _rows(
        one.test.input_ptr, one.test.input_item
    )
    assert _rows(three.test.target_ptr, three.test.target_item) == [[0]]
    # K = 2 is the same as K = 3 here (the third window is empty).
    two = build_protocol(wlog, dates, train_windows=2)
    assert two.train.customers.tolist() == three.train.customers.tolist()
    with pytest.raises(AutorecError, match="--train-windows"):
        build_protocol(wlog, dates, train_windows=0)


def test_autoencoder_examples_hand_worked(tmp_path: Path) -> None:
    f = tmp_path / "purchases.csv"
    f.write_text(WINDOWS_PURCHASES)
    wlog = build_purchase_log(read_events(f))
    dates = parse_purchase_split(WINDOWS_SPLIT)
    one = build_protocol(wlog, dates)
    ae = build_protocol(wlog, dates, autoencoder=True)
    # After the X -> Y examples (A, B) come one XY -> XY example per customer with >= 2
    # catalogue products in XY = [Jan 1, Jan 31): A {i1..i4}, B {i1, i2} (i2 twice: aged by
    # Jan 22), C {i3, i4} (its Feb 5 purchase is in Z, never read); ages to Jan 31.
    assert wlog.users.decode(ae.train.customers).tolist() == ["A", "B", "A", "B", "C"]
    ex = ae.train
    assert _rows(ex.input_ptr, ex.input_item)[2:] == [[0, 1, 2, 3], [0, 1], [2, 3]]
    assert _rows(ex.target_ptr, ex.target_item)[2:] == [[0, 1, 2, 3], [0, 1], [2, 3]]
    assert _rows(ex.input_ptr, ex.input_age_days)[2:] == [
        [29.0, 26.0, 16.0, 6.0],
        [28.0, 9.0],
        [27.0, 25.0],
    ]
    assert _rows(ex.input_ptr, ex.input_item)[:2] == _rows(
        one.train.input_ptr, one.train.input_item
    )
    # the test examples and the catalogue are unchanged; min_purchases applies
    assert ae.test.customers.tolist() == one.test.customers.tolist()
    assert ae.catalogue.tolist() == one.catalogue.tolist()
    three = build_protocol(wlog, dates, autoencoder=True, min_purchases=3, check=False)
    assert wlog.users.decode(three.train.customers).tolist() == ["A", "A"]

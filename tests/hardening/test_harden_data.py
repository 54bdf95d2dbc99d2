"""Findings 14-19: bad data and bad genomes end in a result or one clear error, never in a
traceback or a silently wrong result; the baseline needs no validation protocol."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from autorec.cli.app import app
from autorec.data import load_events, load_session_data
from autorec.errors import AutorecError
from autorec.genome import Genome, load_genome

runner = CliRunner()
HEAD = "user_id,item_id,timestamp\n"


def _csv(tmp_path: Path, body: str, name: str = "e.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEAD + body)
    return path


def _ignored(path: Path) -> dict[str, int]:
    return dict(load_events(path).frame.attrs["ignored"])


# 14 ---------------------------------------------------------------------------------------
def test_14_far_iso_dates_are_skipped_and_counted(tmp_path: Path) -> None:
    f = _csv(tmp_path, "u,a,2020-01-01\nu,b,9999-12-31\nu,c,2262-04-12\nu,d,3000-01-01\n")
    log = load_events(f)
    assert log.frame["item_id"].tolist() == ["a"]
    assert _ignored(f) == {"timestamp outside 1900..2262 (first: data row 2)": 3}


def test_14_the_millisecond_rule_is_per_value(tmp_path: Path) -> None:
    f = _csv(tmp_path, "u,a,1000000000\nu,b,1000000001\nu,c,1000000002500\n")
    assert load_events(f).frame["timestamp"].tolist() == [1000000000, 1000000001, 1000000002]


def test_14_infinite_and_huge_numbers_are_skipped(tmp_path: Path) -> None:
    f = _csv(tmp_path, "u,a,1e300\nu,b,inf\nu,c,100\n")
    assert load_events(f).frame["item_id"].tolist() == ["c"]
    assert sum(_ignored(f).values()) == 2


def test_14_damaged_compressed_files_are_named(tmp_path: Path) -> None:
    fake_zip = tmp_path / "e.csv.zip"
    fake_zip.write_text(HEAD + "u,a,1\n")
    with pytest.raises(AutorecError, match="compressed file is damaged"):
        load_events(fake_zip)
    cut = tmp_path / "e.csv.gz"
    packed = gzip.compress((HEAD + "".join(f"u{i},a{i * 7},{i}\n" for i in range(5000))).encode())
    cut.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(AutorecError, match="compressed file is damaged"):
        load_events(cut)
    result = runner.invoke(app, ["data", "inspect", str(cut)])
    assert result.exit_code == 2 and "Aborted" not in result.output


# 15 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "values", [[True, False], pd.to_timedelta([1, 2], unit="s").tolist()], ids=["bool", "td"]
)
def test_15_parquet_times_that_are_not_points_in_time(tmp_path: Path, values: list[object]) -> None:
    path = tmp_path / "e.parquet"
    pd.DataFrame({"user_id": ["u", "u"], "item_id": ["a", "b"], "timestamp": values}).to_parquet(
        path
    )
    with pytest.raises(AutorecError, match="not points in time"):
        load_events(path)


def test_15_nan_and_negative_ratings_are_counted_apart(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("user_id,item_id,rating,timestamp\nu,a,5,1\nu,b,NaN,2\nu,c,-3,3\nu,d,1,4\n")
    assert _ignored(path) == {
        "rating missing or NaN (first: data row 2)": 1,
        "rating negative (first: data row 3)": 1,
        "rating below min_rating 3.5": 1,
    }


def test_15_ids_are_kept_byte_exact(tmp_path: Path) -> None:
    f = _csv(tmp_path, "NA,NaN,1\nnull, a ,2\nu,None,3\n")
    frame = load_events(f).frame
    assert frame["item_id"].tolist() == ["NaN", " a ", "None"]
    assert frame["user_id"].tolist() == ["NA", "null", "u"]


def test_15_duplicated_rows_are_counted(tmp_path: Path) -> None:
    f = _csv(tmp_path, "u,a,1\nu,a,1\nu,b,2\n")
    assert load_events(f).frame.attrs["duplicate_rows"] == 1


def test_15_duplicate_genome_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text("family: drnn\nunits_1: 16\nunits_1: 32\n")
    with pytest.raises(AutorecError, match="key 'units_1' appears twice"):
        load_genome(path)


# 16 ---------------------------------------------------------------------------------------
def test_16_an_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    # One gene value, ~330 bytes: 9 * 5**12 leaves once expanded (the old loader's message
    # rendered them all and never finished).
    levels = ['&a0 ["x","x","x","x","x","x","x","x","x"]']
    levels += [f"&a{i} [*a{i - 1},*a{i - 1},*a{i - 1},*a{i - 1},*a{i - 1}]" for i in range(1, 13)]
    path = tmp_path / "bomb.yaml"
    path.write_text("family: drnn\nunits_1: [" + ", ".join(levels) + "]\n")
    assert len(path.read_bytes()) < 700
    started = time.monotonic()
    with pytest.raises(AutorecError, match="alias") as info:
        load_genome(path)
    assert time.monotonic() - started < 5 and len(str(info.value)) < 400


def test_16_echoed_values_are_cut(tmp_path: Path) -> None:
    nested: object = ["x"] * 9
    for _ in range(12):  # 9 * 5**12 leaves if expanded: its repr would never end
        nested = [nested] * 5
    started = time.monotonic()
    with pytest.raises(AutorecError) as info:
        Genome.from_dict({"family": "drnn", "units_1": nested})
    assert time.monotonic() - started < 5 and len(str(info.value)) < 400
    with pytest.raises(AutorecError) as info:
        Genome.from_dict({"family": "drnn", "activation": "r" * 100_000})
    assert len(str(info.value)) < 400


# 17 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("gene", "value"), [("units_1", 10**29), ("batch_size", 10**21)])
def test_17_huge_values_hit_a_soft_limit(gene: str, value: int) -> None:
    with pytest.raises(AutorecError, match=f"gene '{gene}' .* above its soft limit"):
        Genome.from_dict({"family": "drnn", gene: value})


def test_17_the_soft_limit_can_be_lifted(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(AutorecError, match="AUTOREC_NO_SOFT_LIMITS=1"):
        Genome.from_dict({"family": "drnn", "units_1": 70_000})
    monkeypatch.setenv("AUTOREC_NO_SOFT_LIMITS", "1")
    assert Genome.from_dict({"family": "drnn", "units_1": 70_000}).genes["units_1"] == 70_000


def test_17_a_giant_id_is_refused(tmp_path: Path) -> None:
    f = _csv(tmp_path, f"u,{'i' * 100_000},1\nu,b,2\n")
    with pytest.raises(AutorecError, match=r"column item_id: id of 100,000 characters"):
        load_events(f)


# 18 ---------------------------------------------------------------------------------------
def test_18_a_comma_file_named_tsv(tmp_path: Path) -> None:
    f = _csv(tmp_path, "u,a,1\n", name="e.tsv")
    with pytest.raises(AutorecError, match=r"separated by commas; rename the file to \.csv"):
        load_events(f)


def test_18_a_yoochoose_folder_without_buys(tmp_path: Path) -> None:
    (tmp_path / "clicks.csv").write_text("1,2014-04-01T10:00:00Z,5,0\n")
    with pytest.raises(AutorecError, match=r"holds clicks\.csv but no buys\.csv"):
        load_events(tmp_path)


def test_18_too_few_sessions_names_the_file(tmp_path: Path) -> None:
    f = tmp_path / "s.csv"
    f.write_text("session_id,item_id,timestamp,event\ns1,a,1,view\ns1,a,2,buy\n")
    with pytest.raises(AutorecError, match=rf"^{f}: only 1 session\(s\)"):
        load_session_data(f)


def test_18_search_range_errors_are_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["search", "--population", "1", "--run-dir", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: option --population: got 1; pass 2 or more"
    ]


# 19 ---------------------------------------------------------------------------------------
def test_19_baseline_on_the_test_protocol_only(tmp_path: Path) -> None:
    # Worked by hand. Popularity in [dx, dyz): a 3, b 2, c 2, d 1, e 1. u1 and u2 bought
    # {a, b, c} and get {d, e}: Z = {d}, 1 hit of 2. u3 bought {a, d} and gets {b, c}:
    # Z = {b, c}, 2 hits. P@2 = (1/2 + 1/2 + 1) / 3 = 2/3. The validation protocol, one month
    # earlier, has no customer at all.
    rows = [
        ("u1", "a", "01-05"), ("u1", "b", "01-06"), ("u1", "c", "02-05"), ("u1", "d", "03-05"),
        ("u2", "a", "01-07"), ("u2", "c", "01-08"), ("u2", "b", "02-06"), ("u2", "d", "03-06"),
        ("u3", "a", "01-09"), ("u3", "d", "02-07"), ("u3", "b", "03-07"), ("u3", "c", "03-08"),
        ("u4", "e", "01-10"),
    ]  # fmt: skip
    f = _csv(tmp_path, "".join(f"{u},{i},2020-{d}T12:00:00Z\n" for u, i, d in rows))
    split = "2020-01-01,2020-02-01,2020-03-01,2020-04-01"
    result = runner.invoke(
        app, ["baseline", "popularity", "--data", str(f), "--split", split, "--k", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    found = [v for k, v in _flat(out).items() if k.endswith("precision@2")]
    assert found and all(np.isclose(v, 2 / 3) for v in found), out


def _flat(d: object, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    if isinstance(d, dict):
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}{k}."))
    elif isinstance(d, (int, float)):
        out[prefix.rstrip(".")] = float(d)
    return out

"""``autorec baseline``: JSON shape on the synthetic default data, bad input -> exit code 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from autorec.cli.app import app, main
from autorec.cli.baseline import parse_params
from autorec.errors import AutorecError

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["baseline", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("name", ["popularity", "session-views", "itemknn"])
def test_sessions_json_shape(name: str) -> None:
    code, out, _ = run(name, "--json", "--k", "5")
    assert code == 0, out
    doc = json.loads(out)  # stdout holds exactly one JSON object
    assert doc["baseline"] == name
    assert doc["protocol"] == "sessions"
    assert doc["data"]["kind"] == "sessions" and doc["data"]["path"] is None
    assert set(doc["metrics"]) == {
        "top1",
        "top1_se",
        "top5",
        "top5_se",
        "path_compression",
        "n_samples",
    }
    assert 0.0 < doc["metrics"]["top5_se"] < 0.5
    assert doc["metrics"]["n_samples"] > 0
    assert 0.0 <= doc["metrics"]["top1"] <= doc["metrics"]["top5"] <= 1.0
    assert 0.0 < doc["metrics"]["path_compression"] <= 1.0
    assert set(doc["wall_s"]) == {"load", "fit", "evaluate", "total"}


def test_purchases_json_shape() -> None:
    code, out, _ = run("popularity", "--kind", "purchases", "--json")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["protocol"] == "purchases"
    m = doc["metrics"]
    assert set(m) == {
        "n_customers",
        "n_catalogue",
        "precision@10",
        "precision@10_se",
        "pcc@10",
        "pcc@10_count",
    }
    assert 0.0 < m["precision@10_se"] < 0.5
    assert m["n_customers"] > 0 and m["n_catalogue"] > 0
    assert m["pcc@10"] == pytest.approx(m["pcc@10_count"] / m["n_catalogue"])


def test_purchases_validation_is_the_shifted_protocol() -> None:
    """``--validation``: the baseline refitted on the month-shifted validation protocol and
    scored on its customers, the part a search's fitness accuracy is measured on."""
    from autorec.baselines import make_baseline
    from autorec.data import load_purchase_data
    from autorec.evaluation import evaluate_customers

    code, out, _ = run("itemknn", "--kind", "purchases", "--validation", "--json")
    assert code == 0, out
    doc = json.loads(out)
    data = load_purchase_data(None, None)
    expected = make_baseline("itemknn").fit_purchases(data.log, data.validation)
    ref = evaluate_customers(expected, data.validation.test, data.validation.n_items, k=10)
    v = doc["validation_metrics"]
    assert set(v) == set(doc["metrics"])  # the test figures' shape, on the validation part
    assert v["n_customers"] == int(ref["n_customers"]) == data.validation.test.n_customers
    assert v["precision@10"] == pytest.approx(ref["precision@10"])
    # the test figures are still the test protocol's, from the model fitted on it
    assert doc["metrics"]["n_customers"] == data.protocol.test.n_customers != v["n_customers"]
    assert "validation_metrics" not in json.loads(
        run("itemknn", "--kind", "purchases", "--json")[1]
    )


def test_sessions_validation_counts_the_validation_prefixes() -> None:
    from autorec.data import load_session_data

    code, out, _ = run("session-views", "--validation", "--k", "5")
    assert code == 0, out
    lines = dict(line.split(None, 1) for line in out.splitlines()[1:] if "valid" not in line)
    valid = {
        line.split()[1]: line.split()[2]
        for line in out.splitlines()
        if line.strip().startswith("valid ")
    }
    assert int(valid["n_samples"]) == len(load_session_data(None, None).valid_samples.session)
    assert 0.0 <= float(valid["top1"]) <= float(valid["top5"]) <= 1.0
    assert "top1" in lines and "wall_s" in lines


def test_als_params_and_human_output() -> None:
    code, out, _ = run("als", "-p", "factors=8", "-p", "iterations=3", "--k", "3")
    assert code == 0, out
    assert out.startswith("baseline als on synthetic")
    assert "top3" in out and "path_compression" in out


def run_main(
    args: tuple[str, ...], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    """Through the console-script entry ``main()`` (what a user runs)."""
    monkeypatch.setattr("sys.argv", ["autorec", "baseline", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out, captured.err


def test_session_views_on_purchase_data_is_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run_main(
        ("session-views", "--kind", "purchases", "--json"), capsys, monkeypatch
    )
    assert code == 2
    assert out == ""
    assert "session-views" in err and "page views" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [
        ("nope",),
        ("itemknn", "-p", "shrink"),
        ("als", "-p", "factors=0"),
        ("als", "-p", "bogus=1"),
        ("popularity", "--kind", "clicks"),
        ("popularity", "--data", "/no/such/file.csv"),
    ],
)
def test_bad_input_is_exit_2(
    args: tuple[str, ...], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run_main(args, capsys, monkeypatch)
    assert code == 2, (out, err)
    assert err.startswith("error:") and "Traceback" not in err


def test_parse_params() -> None:
    assert parse_params(["factors=32", "alpha=2.5", "history=True", "x=abc", "buy-weight=2"]) == {
        "factors": 32,
        "alpha": 2.5,
        "history": True,
        "x": "abc",
        "buy_weight": 2,
    }
    with pytest.raises(AutorecError):
        parse_params(["=3"])

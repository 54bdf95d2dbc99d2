"""``autorec serve``: the HTTP service of a bundle (FastAPI TestClient on tiny synthetic
bundles). Served scores equal ``autorec recommend``'s offline table exactly; bad input to
every endpoint is a clear 4xx without a traceback; a changed bundle is refused before any
of its code runs."""

from __future__ import annotations

import json
import socket
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from _serve_fixtures import DRNN, PREDICTOR, tiny_trained_bundle

from autorec.errors import AutorecError
from autorec.export import load_bundle, read_recommendations, recommend
from autorec.serve import ServedModel, ServeOptions, create_app, replay_requests

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note on its httpx backend
    from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("serve")
    return {
        "drnn": tiny_trained_bundle(root, DRNN),
        "predictor": tiny_trained_bundle(root, PREDICTOR),
    }


@pytest.fixture(scope="module")
def clients(bundles: dict[str, Path]) -> Any:
    with (
        TestClient(create_app(bundles["drnn"])) as drnn,
        TestClient(create_app(bundles["predictor"])) as predictor,
    ):
        yield {"drnn": drnn, "predictor": predictor}


def _table(path: Path) -> dict[str, list[tuple[str, float]]]:
    recs = read_recommendations(path)
    rows = sorted(zip(recs["entity_id"], recs["rank"], recs["item_id"], recs["score"], strict=True))
    table: dict[str, list[tuple[str, float]]] = {}
    for entity, _, item, score in rows:
        table.setdefault(str(entity), []).append((str(item), float(score)))
    return table


@pytest.mark.parametrize("family", ["drnn", "predictor"])
def test_served_scores_equal_recommend(
    family: str, bundles: dict[str, Path], clients: dict[str, TestClient], tmp_path: Path
) -> None:
    bundle = load_bundle(bundles[family])
    recommend(bundle, tmp_path / "recs.parquet", k=10)
    table = _table(tmp_path / "recs.parquet")
    cases = replay_requests(bundle, k=10, limit=80)
    assert len(cases) == 80
    if family == "drnn":  # the FNN input (earlier purchases) is exercised too
        assert any("history" in body for _, body in cases)
    for entity, body in cases:
        r = clients[family].post("/recommend", json=body)
        assert r.status_code == 200, r.text
        got = [(x["item"], x["score"]) for x in r.json()["items"]]
        assert got == table[entity], entity  # exactly: same floats, same order
    # one micro-batch of all of them scores each exactly as alone
    model = clients[family].app.state.model
    queries = [_query(model, body) for _, body in cases]
    for (entity, _), answer in zip(cases, model.answer(queries), strict=True):
        assert list(zip(answer.items, answer.scores, strict=True)) == table[entity]


def _query(model: ServedModel, body: dict[str, Any]) -> Any:
    from autorec.serve._schema import CustomerBody, SessionBody

    if model.family == "drnn":
        s = SessionBody.model_validate(body)
        return model.prepare_session(s.pages, s.dwell, s.history, s.k)
    c = CustomerBody.model_validate(body)
    return model.prepare_customer([(p.item, p.date) for p in c.purchases], None, c.k)


def _good(family: str, bundles: dict[str, Path]) -> dict[str, Any]:
    return replay_requests(load_bundle(bundles[family]), k=5, limit=1)[0][1]


def _check_4xx(r: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert "Traceback" not in r.text and 'File "' not in r.text
    body: dict[str, Any] = r.json()
    if field is not None:
        assert field in [f["field"] for f in body["fields"]], body
    return body


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"pages": "p1"}, "pages"),
        ({"pages": [True]}, "pages[0]"),
        ({"pages": [{"id": 1}]}, "pages[0]"),
        ({"pages": []}, "pages"),
        ({"pages": None}, "pages"),
        ({"dwell": ["a"]}, "dwell[0]"),
        ({"dwell": [-1.0]}, "dwell[0]"),
        ({"dwell": [1.0, 2.0, 3.0, 4.0, 5.0] * 400}, "dwell"),
        ({"history": "i1"}, "history"),
        ({"k": "10"}, "k"),
        ({"k": 2.5}, "k"),
        ({"k": 0}, "k"),
        ({"k": 10**9}, "k"),
        ({"k": 10**40}, "k"),
        ({"page": ["x"]}, "page"),
    ],
)
def test_bad_session_body(
    patch: dict[str, Any], field: str, bundles: dict[str, Path], clients: dict[str, TestClient]
) -> None:
    body = {**_good("drnn", bundles), **patch}
    if patch.get("pages") is None and "pages" in patch:
        del body["pages"]
    if "dwell" not in patch:
        body.pop("dwell", None)
    out = _check_4xx(clients["drnn"].post("/recommend", json=body), 422, field)
    if field == "k" and patch["k"] == 10**9:
        assert "at most 1000" in out["fields"][0]["problem"]


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"purchases": []}, "purchases"),
        ({"purchases": [{"item": "x"}]}, "purchases[0].date"),
        ({"purchases": [{"item": "x", "date": "yesterday"}]}, "purchases[0].date"),
        ({"purchases": [{"item": "x", "date": 10**30}]}, "purchases[0].date"),
        ({"purchases": [{"item": "x", "date": "99999-01-01"}]}, "purchases[0].date"),
        ({"purchases": [{"item": None, "date": 0}]}, "purchases[0].item"),
        ({"purchases": ["x"]}, "purchases[0]"),
        ({"as_of": "not a date"}, "as_of"),
        ({"as_of": -5}, "as_of"),
        ({"k": -3}, "k"),
        ({"k": 5000}, "k"),
    ],
)
def test_bad_customer_body(
    patch: dict[str, Any], field: str, bundles: dict[str, Path], clients: dict[str, TestClient]
) -> None:
    body = {**_good("predictor", bundles), **patch}
    _check_4xx(clients["predictor"].post("/recommend", json=body), 422, field)


@pytest.mark.parametrize("family", ["drnn", "predictor"])
def test_malformed_requests_to_every_endpoint(family: str, clients: dict[str, TestClient]) -> None:
    c = clients[family]
    _check_4xx(
        c.post("/recommend", content=b"{not json", headers={"content-type": "application/json"}),
        422,
        "body",
    )
    _check_4xx(c.post("/recommend", json=[1, 2]), 422, "body")
    r = c.post("/recommend", content=b'{"pages": ["1"]}', headers={"content-type": "text/plain"})
    assert 400 <= r.status_code < 500 and "Traceback" not in r.text
    _check_4xx(c.get("/recommend"), 405)
    _check_4xx(c.post("/health", json={}), 405)
    _check_4xx(c.post("/model", json={}), 405)
    _check_4xx(c.get("/nowhere"), 404)
    assert c.get("/health", params={"junk": "1"}).json()["status"] == "ok"


@pytest.mark.parametrize("family", ["drnn", "predictor"])
def test_oversize_body_is_413(family: str, clients: dict[str, TestClient]) -> None:
    c = clients[family]
    huge = json.dumps({"pages": ["1"] * 400_000}).encode()
    assert len(huge) > ServeOptions().max_body_bytes
    body = _check_4xx(
        c.post("/recommend", content=huge, headers={"content-type": "application/json"}), 413
    )
    assert "--max-body-kb" in body["fix"]

    def chunks() -> Any:  # no Content-Length: counted while it arrives
        for i in range(0, len(huge), 65536):
            yield huge[i : i + 65536]

    _check_4xx(
        c.post("/recommend", content=chunks(), headers={"content-type": "application/json"}),
        413,
    )


def test_unknown_ids_are_counted_not_errors(
    bundles: dict[str, Path], clients: dict[str, TestClient]
) -> None:
    body = _good("drnn", bundles)
    mixed = {
        "pages": ["no-such-page", *body["pages"], 12345678],
        "dwell": [5.0, *body["dwell"], 1.0],
        "history": ["no-such-item"],
        "k": 3,
    }
    out = clients["drnn"].post("/recommend", json=mixed).json()
    assert out["unknown"] == {"pages": 2, "items": 1}
    assert out["used"]["pages"] == len(body["pages"]) and len(out["items"]) == 3
    only_unknown = clients["drnn"].post("/recommend", json={"pages": ["zz", 99999999]}).json()
    assert only_unknown["items"] == [] and only_unknown["unknown"]["pages"] == 2
    assert "no known input" in only_unknown["note"]

    good = _good("predictor", bundles)
    first = good["purchases"][0]
    odd = {"purchases": [*good["purchases"], {"item": "no-such-item", "date": first["date"]}]}
    out = clients["predictor"].post("/recommend", json=odd).json()
    assert out["unknown"] == {"items": 1} and len(out["items"]) == 10
    bought = {p["item"] for p in good["purchases"]}
    assert not bought & {x["item"] for x in out["items"]}  # inputs are excluded
    old = {"purchases": [{"item": first["item"], "date": "1990-01-01"}]}
    out = clients["predictor"].post("/recommend", json=old).json()
    assert out["items"] == [] and out["used"]["outside_window"] == 1


@pytest.mark.parametrize("family", ["drnn", "predictor"])
def test_k_larger_than_catalogue_is_clamped(
    family: str, bundles: dict[str, Path], clients: dict[str, TestClient]
) -> None:
    n = load_bundle(bundles[family]).n_items
    body = {**_good(family, bundles), "k": n + 50}
    out = clients[family].post("/recommend", json=body).json()
    excluded = out["used"].get("inputs", 0)
    assert len(out["items"]) == n - excluded and out["k"] == n + 50
    scores = [x["score"] for x in out["items"]]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("family", ["drnn", "predictor"])
def test_health_and_model(
    family: str, bundles: dict[str, Path], clients: dict[str, TestClient]
) -> None:
    manifest = json.loads((bundles[family] / "manifest.json").read_text())
    health = clients[family].get("/health").json()
    assert health["status"] == "ok" and health["model_version"] == manifest["model_version"]
    info = clients[family].get("/model").json()
    assert info["genome_key"] == manifest["genome_key"] and info["family"] == family
    card = json.loads((bundles[family] / "data_card.json").read_text())
    assert info["data_card"]["split"] == card["split"]
    assert "test_metrics" in info["metrics"]


def _main(args: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """The real console entry (``autorec.cli.app:main``) run in-process; its exit code."""
    from autorec.cli.app import main

    monkeypatch.setattr(sys, "argv", ["autorec", *args])
    try:
        main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_changed_bundle_is_refused_before_its_code_runs(
    bundles: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(bundles["predictor"], bad)
    marker = tmp_path / "imported"
    source = (bad / "model.py").read_text()
    (bad / "model.py").write_text(f"open({str(marker)!r}, 'w').close()\n{source}")
    with pytest.raises(AutorecError, match=r"model\.py.*sha256.*re-export"):
        create_app(bad)
    capsys.readouterr()
    assert _main(["serve", str(bad), "--port", "1"], monkeypatch) == 2
    err = capsys.readouterr().err
    assert "sha256" in err and "Traceback" not in err
    assert not marker.exists()  # the changed model.py never ran


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_cli_serves_on_loopback(
    bundles: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real command on a real socket: uvicorn on 127.0.0.1 (in a thread here, so the
    test can stop it), answering over HTTP."""
    import threading

    import uvicorn

    servers: list[uvicorn.Server] = []

    def run(app: Any, **kwargs: Any) -> None:
        servers.append(uvicorn.Server(uvicorn.Config(app, **kwargs)))
        servers[0].run()

    monkeypatch.setattr(uvicorn, "run", run)
    port = _free_port()
    args = ["serve", str(bundles["drnn"]), "--port", str(port), "--max-k", "50"]
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(_main(args, monkeypatch)))
    thread.start()
    try:
        deadline = time.monotonic() + 120
        health = None
        while time.monotonic() < deadline and thread.is_alive():
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()
                break
            except httpx.TransportError:
                time.sleep(0.05)  # polling the server's start-up
        assert health is not None and health["status"] == "ok", codes
        assert servers[0].config.host == "127.0.0.1"
        body = replay_requests(load_bundle(bundles["drnn"]), k=4, limit=1)[0][1]
        r = httpx.post(f"http://127.0.0.1:{port}/recommend", json=body, timeout=10)
        assert r.status_code == 200 and len(r.json()["items"]) == 4
        r = httpx.post(f"http://127.0.0.1:{port}/recommend", json={**body, "k": 51}, timeout=10)
        assert r.status_code == 422 and "at most 50" in r.text
    finally:
        if servers:
            servers[0].should_exit = True
        thread.join(timeout=30)
    assert codes == [0]
    err = capsys.readouterr().err
    assert f"on http://127.0.0.1:{port}" in err and "warning" not in err.lower()


def test_cli_options_are_checked(bundles: dict[str, Path]) -> None:
    from typer.testing import CliRunner

    from autorec.cli.app import app

    runner = CliRunner()
    for args, where in (
        (["--port", "70000"], "--port"),
        (["--max-k", "0"], "--max-k"),
        (["--max-batch", "0"], "--max-batch"),
        (["--max-wait-ms", "-1"], "--max-wait-ms"),
        (["--threads", "0"], "--threads"),
    ):
        r = runner.invoke(app, ["serve", str(bundles["drnn"]), *args])
        assert r.exit_code == 2 and where in r.output, r.output


def test_micro_batcher_batches_concurrent_queries() -> None:
    import threading

    from autorec.serve import MicroBatcher

    gate = threading.Event()
    seen: list[int] = []

    def score(batch: Any) -> list[int]:
        gate.wait(5)
        seen.append(len(batch))
        return [2 * q for q in batch]

    batcher: MicroBatcher[int, int] = MicroBatcher(score, max_batch=8)
    futures = [batcher.submit(i) for i in range(20)]
    gate.set()
    assert [f.result(timeout=10) for f in futures] == [2 * i for i in range(20)]
    assert sum(seen) == 20 and max(seen) <= 8 and len(seen) < 20
    batcher.close()
    with pytest.raises(ValueError, match="max_batch"):
        MicroBatcher(score, max_batch=0)


def test_scores_do_not_depend_on_the_batch(bundles: dict[str, Path]) -> None:
    """Every forward pass is padded to MIN_ROWS rows: a row's float32 logits are then the
    same in a batch of 1, 3 or 40 (unpadded, the small-matrix kernels round differently)."""
    model = ServedModel.load(bundles["drnn"])
    cases = replay_requests(model.bundle, k=10, limit=40)
    queries = [_query(model, body) for _, body in cases]
    together = model.answer(queries)
    alone = [model.answer([q])[0] for q in queries]
    threes = [a for i in range(0, 40, 3) for a in model.answer(queries[i : i + 3])]
    for a, b, c in zip(together, alone, threes, strict=True):
        assert a.scores == b.scores == c.scores and a.items == b.items == c.items
    assert np.isfinite([s for a in together for s in a.scores if s is not None]).all()

"""The search on a real local Ray (one Ray session for the module) with a fake trainer.

Covers: a full tiny search writes the run dir; the elitist best never falls; the same seed
and the same trial results give the same trajectory; a failing trial scores 0 and the search
goes on; ``kill -9`` of the driver mid-generation, then ``autorec resume``, ends with the
same best genome as an uninterrupted run and trains no finished genome again.
"""

from __future__ import annotations

import contextlib
import csv
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

ray = pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")  # Ray ships it (ray/thirdparty_files)

from fake_trainer import always_failing_train_genome, failing_train_genome, fake_train_genome  # noqa: E402

from autorec.data import SessionData, load_session_data  # noqa: E402
from autorec.errors import AutorecError  # noqa: E402
from autorec.evolution import (  # noqa: E402
    STRATEGIES,
    Member,
    NextGeneration,
    Strategy,
    StrategyContext,
    register_strategy,
)
from autorec.tune import SearchOptions, run_search, start_ray  # noqa: E402
from autorec.tune._failures import STRICT_ENV, TrialFailed  # noqa: E402

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
FAKE_CLI = str(REPO / "tests" / "support" / "fake_cli.py")


DASHBOARD: str | None = None  # the module cluster's dashboard URL


@pytest.fixture(scope="module")
def ray_session() -> Iterator[None]:
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO), *paths])
    global DASHBOARD
    # autorec's own start: a loopback-only local Ray (with its dashboard)
    DASHBOARD = start_ray(num_cpus=2, quiet=True)
    yield
    ray.shutdown()


def _opts(run_dir: Path, **kw: Any) -> SearchOptions:
    # one quick baseline: the fake trainer's results are not compared with anything
    base: dict[str, Any] = dict(
        population=4, generations=2, seed=7, run_dir=str(run_dir), baselines="popularity"
    )
    base.update(kw)
    return SearchOptions(**base)


@pytest.fixture(scope="module")
def sessions() -> SessionData:
    """The built-in synthetic sessions, loaded once for the module's searches."""
    return load_session_data(None, seed=7)


def _gens(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((run_dir / "generations").glob("*.json"))]


@pytest.fixture(scope="module")
def tiny(
    ray_session: None, sessions: SessionData, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Any]:
    rd = tmp_path_factory.mktemp("tiny") / "run"
    return rd, run_search(_opts(rd), train_fn=fake_train_genome, data=sessions, quiet=True)


def test_tiny_search_writes_run_dir(tiny: tuple[Path, Any]) -> None:
    rd, s = tiny
    assert s.finished and s.best_key is not None
    for name in (
        "config.yaml",
        "fitness_cache.json",
        "trials.csv",
        "searcher_state.pkl",
        "logbook.json",
        "hall_of_fame.yaml",
        "best_genome.yaml",
        "report.html",
        "plots/fitness.png",
        "plots/diversity.png",
        "DONE",
    ):
        assert (rd / name).is_file(), name
    assert (rd / "tune" / "session-01").is_dir()
    gens = _gens(rd)
    assert [g["generation"] for g in gens] == [0, 1, 2]
    assert all(len(g["population"]) == 4 for g in gens)
    with (rd / "trials.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == s.trials and all(r["status"] == "ok" for r in rows)
    assert len({r["genome_key"] for r in rows}) == len(rows)
    assert all(r["trial_name"].startswith(f"g{r['generation']}-drnn-w") for r in rows)
    best = yaml.safe_load((rd / "best_genome.yaml").read_text())
    assert best["family"] == "drnn"
    config = yaml.safe_load((rd / "config.yaml").read_text())
    assert config["population"] == 4 and "ray" in config["versions"]
    # elitist: the population's best never falls across generations
    best_per_gen = [g["best_fitness"] for g in gens]
    assert best_per_gen == sorted(best_per_gen)
    assert s.best_fitness == pytest.approx(max(best_per_gen))


def test_same_seed_same_trajectory(
    tiny: tuple[Path, Any], sessions: SessionData, tmp_path: Path
) -> None:
    rd_a, a = tiny
    b = run_search(_opts(tmp_path / "b"), train_fn=fake_train_genome, data=sessions, quiet=True)
    keys_a = [[m["genome_key"] for m in g["population"]] for g in _gens(rd_a)]
    keys_b = [[m["genome_key"] for m in g["population"]] for g in _gens(tmp_path / "b")]
    assert keys_a == keys_b
    assert a.best_key == b.best_key and a.best_fitness == b.best_fitness


def test_failing_trials_score_zero_and_search_goes_on(
    ray_session: None, sessions: SessionData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STRICT_ENV, "0")  # the failure path itself: record, count, go on
    rd = tmp_path / "fail"
    s = run_search(
        _opts(rd, generations=1), train_fn=failing_train_genome, data=sessions, quiet=True
    )
    assert s.finished
    records = json.loads((rd / "fitness_cache.json").read_text())["records"]
    errors = [r for r in records if r["status"] == "error"]
    assert errors, "the fake fails for keys starting 0-4"
    assert all(r["fitness"] == 0.0 and "fake failure" in r["error"] for r in errors)
    assert all("Traceback" in r["traceback"] and "RuntimeError" in r["traceback"] for r in errors)
    assert any(r["status"] == "ok" for r in records)
    # counted and shown: the summary, its JSON and the report name the failures
    assert s.errors == len(errors) == s.to_json()["errors"] == s.statuses["error"]
    page = (rd / "report.html").read_text()
    assert f"<b>{len(errors)} failed</b>" in page and f"Failed trials ({len(errors)})" in page
    assert "fake failure" in page


def test_a_strict_search_raises_on_a_failed_trial(
    ray_session: None, sessions: SessionData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STRICT_ENV, "1")
    with pytest.raises(TrialFailed, match=r"2 trial\(s\) failed(.|\n)*fake failure"):
        run_search(
            _opts(tmp_path / "strict", population=2, generations=0),
            train_fn=always_failing_train_genome,
            data=sessions,
            quiet=True,
        )


def test_all_failed_search_leaves_no_best_genome(
    ray_session: None, sessions: SessionData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STRICT_ENV, "0")  # the failure path itself
    from autorec.tune._checks import all_failed_line

    rd = tmp_path / "failed"
    s = run_search(
        _opts(rd, population=2, generations=0),
        train_fn=always_failing_train_genome,
        data=sessions,
        quiet=True,
    )
    records = json.loads((rd / "fitness_cache.json").read_text())["records"]
    assert len(records) == 2 and {r["status"] for r in records} == {"error"}
    assert all("fake failure" in r["error"] for r in records)
    assert not (rd / "best_genome.yaml").exists() and not (rd / "DONE").exists()
    line = all_failed_line(records, s.run_dir)
    assert line is not None and line.startswith("all 2 trials failed (error: 2)")


class _BestMutated(Strategy):
    """A strategy that lives in this test file, not in autorec: every genome of the next
    generation is the closed generation's best, mutated."""

    name = "test-best-mutated"
    #: per call: the generation closed, its best genome's key, the keys bred from it
    calls: ClassVar[list[tuple[int, str, list[str]]]] = []

    def select_next(self, population: Sequence[Member], ctx: StrategyContext) -> NextGeneration:
        best = max(population, key=lambda m: m[1].fitness)[0]
        children = [ctx.toolbox.mutate(best, ctx.rng) for _ in population]
        type(self).calls.append((ctx.generation, best.key, [c.key for c in children]))
        return NextGeneration(children)


@pytest.fixture
def registered() -> Iterator[type[_BestMutated]]:
    register_strategy(_BestMutated)
    _BestMutated.calls.clear()
    yield _BestMutated
    STRATEGIES.pop(_BestMutated.name, None)  # the registry as the other tests know it


def test_a_registered_strategy_runs_a_search(
    ray_session: None,
    sessions: SessionData,
    registered: type[_BestMutated],
    tmp_path: Path,
) -> None:
    rd = tmp_path / "plugin"
    s = run_search(
        _opts(rd, algorithm=registered.name, generations=2),
        train_fn=fake_train_genome,
        data=sessions,
        quiet=True,
    )
    assert s.finished
    assert yaml.safe_load((rd / "config.yaml").read_text())["algorithm"] == registered.name
    gens = _gens(rd)
    # it bred both generations, from each closed generation's best, and the search trained
    # exactly the genomes it returned
    assert [generation for generation, _, _ in registered.calls] == [0, 1]
    for (_, best_key, bred), before, after in zip(registered.calls, gens, gens[1:], strict=False):
        best = max(before["population"], key=lambda m: m["evaluation"]["fitness"])
        assert best_key == best["genome_key"]
        assert [m["genome_key"] for m in after["population"]] == bred
    # and the name is one --algorithm accepts only while it is registered
    STRATEGIES.pop(registered.name)
    with pytest.raises(AutorecError, match="unknown algorithm 'test-best-mutated'"):
        _opts(tmp_path / "gone", algorithm=registered.name).validate()


def _cli(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, FAKE_CLI, *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """Kill what is left of a driver's process group (Ray agents orphaned by kill -9)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def test_kill_9_then_resume(ray_session: None, sessions: SessionData, tmp_path: Path) -> None:
    # the uninterrupted reference, same options and (fake, deterministic) trial results
    ref = run_search(
        _opts(tmp_path / "ref", population=4, generations=2),
        train_fn=fake_train_genome,
        data=sessions,
        quiet=True,
    )
    ref_keys = {
        r["genome_key"]
        for r in json.loads((tmp_path / "ref" / "fitness_cache.json").read_text())["records"]
    }

    rd = tmp_path / "killed"
    log = tmp_path / "trainings.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "AUTOREC_FAKE_LOG": str(log),
        "AUTOREC_FAKE_SLEEP": "0.4",
        "RAY_DEDUP_LOGS": "0",
    }
    env.pop("RAY_ADDRESS", None)
    args = [
        "search",
        "--population",
        "4",
        "--generations",
        "2",
        "--seed",
        "7",
        "--run-dir",
        str(rd),
        "--num-cpus",
        "2",
        "--json",
    ]
    proc = _cli(args, env)
    cache = rd / "fitness_cache.json"
    killed_with: set[str] = set()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if cache.is_file():
                recs = json.loads(cache.read_text())["records"]
                if len(recs) >= 6:  # generation 0 closed, generation 1 under way
                    break
            if proc.poll() is not None:
                pytest.fail(f"driver ended early: {proc.communicate()[1][-2000:]}")
            time.sleep(0.05)
        else:
            pytest.fail("driver made no progress")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        killed_with = {r["genome_key"] for r in json.loads(cache.read_text())["records"]}
    finally:
        _kill_group(proc)
    assert not (rd / "DONE").exists(), "the driver was killed before the end"
    starts_before = Counter(
        line.split()[1] for line in log.read_text().splitlines() if line.startswith("start ")
    )

    resumed = _cli(["resume", str(rd), "--json"], env)
    try:
        out, err = resumed.communicate(timeout=180)
    finally:
        _kill_group(resumed)
    assert resumed.returncode == 0, err[-3000:]
    summary = json.loads(out)  # nothing but the JSON on stdout
    assert summary["finished"]
    assert summary["best"]["genome_key"] == ref.best_key
    assert summary["best"]["fitness"] == pytest.approx(ref.best_fitness)
    assert summary["replayed"] >= len(killed_with)

    starts_after = (
        Counter(
            line.split()[1] for line in log.read_text().splitlines() if line.startswith("start ")
        )
        - starts_before
    )
    assert not killed_with & set(starts_after), "a finished genome was trained again"
    final = {r["genome_key"] for r in json.loads(cache.read_text())["records"]}
    assert final == ref_keys
    records = json.loads(cache.read_text())["records"]
    assert len(records) == len(final), "one record per genome key"
    config = yaml.safe_load((rd / "config.yaml").read_text())
    assert [s["session"] for s in config["sessions"]] == [1, 2]
    assert (rd / "tune" / "session-02").is_dir() and (rd / "DONE").is_file()


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_report_renders_in_headless_chromium(tiny: tuple[Path, Any], tmp_path: Path) -> None:
    """The page loads in a real browser: tables present, both embedded PNGs decode."""
    rd, _ = tiny
    browser = _chromium()
    page = (rd / "report.html").read_text()
    if browser is None:  # no browser here: a strict parse instead (weaker)
        from html.parser import HTMLParser

        found: dict[str, list[str]] = {"img": [], "table": []}

        class P(HTMLParser):
            def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
                a = dict(attrs)
                if tag == "img":
                    found["img"].append(a.get("src") or "")
                if tag == "table":
                    found["table"].append(a.get("id") or "")

        P().feed(page)
        assert len(found["img"]) == 2
        assert all(src.startswith("data:image/png;base64,") for src in found["img"])
        assert {"best-genome", "generations", "trials"} <= set(found["table"])
        pytest.skip("no chromium on PATH: parsed the HTML only, not rendered")
    probe = (
        "<script>window.addEventListener('load',()=>{const r=[...document.images]"
        ".map(i=>i.complete+':'+i.naturalWidth+'x'+i.naturalHeight);"
        "const p=document.createElement('pre');p.id='probe';p.textContent=r.join(' ');"
        "document.body.appendChild(p);});</script>"
    )
    wrapper = tmp_path / "probe.html"
    wrapper.write_text(page.replace("</body>", probe + "</body>"))
    flags = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--virtual-time-budget=5000",
    ]
    dom = subprocess.run(
        [*flags, "--dump-dom", wrapper.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    m = re.search(r'<pre id="probe">([^<]*)</pre>', dom.stdout)
    assert m, "the page's load event never fired"
    images = m.group(1).split()
    assert len(images) == 2
    assert all(x.startswith("true:640x360") for x in images), images
    for table in ("best-genome", "generations", "trials", "hall-of-fame", "comparison"):
        assert f'id="{table}"' in dom.stdout
    # the test metrics are shown beside what they must beat, with the verdict in words
    assert "(best baseline)" in dom.stdout and 'id="verdict"' in dom.stdout
    shot = tmp_path / "shot.png"
    res = subprocess.run(
        [*flags, f"--screenshot={shot}", "--window-size=1280,2000", (rd / "report.html").as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0 and shot.stat().st_size > 10_000, res.stderr[-2000:]


def test_address_joins_running_cluster(ray_session: None, tmp_path: Path) -> None:
    """``--address`` joins the module's Ray cluster instead of starting one."""
    address = ray.get_runtime_context().gcs_address
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("RAY_ADDRESS", None)
    rd = tmp_path / "joined"
    proc = _cli(
        [
            "search",
            "--population",
            "3",
            "--generations",
            "0",
            "--seed",
            "1",
            "--run-dir",
            str(rd),
            "--address",
            address,
            "--json",
        ],
        env,
    )
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        _kill_group(proc)
    assert proc.returncode == 0, err[-3000:]
    summary = json.loads(out)
    assert summary["finished"] and summary["trials"] == 3
    # no local Ray was started: the only dashboard it may name is the joined cluster's
    assert "Ray dashboard" not in err or f"Ray dashboard: {DASHBOARD}" in err, err[-2000:]


# Finding: a local Ray listened on every interface (GCS, raylet, workers, agents).
def _is_loopback(ip: str) -> bool:
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback


def test_every_ray_listener_is_on_loopback(ray_session: None) -> None:
    @ray.remote
    def pid() -> int:
        return os.getpid()

    worker = ray.get(pid.remote())  # a worker process exists and serves gRPC
    procs = [psutil.Process(), *psutil.Process().children(recursive=True)]
    assert worker in {p.pid for p in procs}
    listeners = []
    for proc in procs:
        try:
            conns = proc.net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        listeners += [
            (proc.name(), c.laddr.ip, c.laddr.port) for c in conns if c.status == "LISTEN"
        ]
    names = {n for n, _, _ in listeners}
    assert any("gcs_server" in n for n in names) and any("raylet" in n for n in names), names
    exposed = [x for x in listeners if not _is_loopback(x[1])]
    assert not exposed, f"listening beyond 127.0.0.1: {exposed}"


def test_ray_reports_a_loopback_node(ray_session: None) -> None:
    ctx = ray.get_runtime_context()
    assert _is_loopback(ctx.gcs_address.rsplit(":", 1)[0])
    assert all(_is_loopback(n["NodeManagerAddress"]) for n in ray.nodes())
    assert os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER") is None  # restored

"""Fuzz of the data readers and the genome loader (a seeded generator): every random input
ends in a result or an :class:`AutorecError` -- never another exception, never a hang.

Each input runs under a SIGALRM deadline (a hang fails the test with that input); the counts
and times are printed (``pytest -s``) and kept in the test's user properties.
"""

from __future__ import annotations

import contextlib
import gzip
import random
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autorec.data._readers import normalise_events, read_events
from autorec.errors import AutorecError
from autorec.genome import SCHEMAS, load_genome

SEED = 20261201
PER_INPUT_S = 10  # far above any real parse: only a hang gets near it
BUDGET_S = 15.0  # seconds of fuzzing in the suite
MIN_INPUTS, MAX_INPUTS = 2000, 20_000

NASTY = [
    "", " ", "NA", "NaN", "null", "None", "nan", "inf", "-inf", "1e300", "-1", "0", "1",
    "1000000000", "1000000000000", "99999999999999999999", "2014-04-01", "2014-04-01T10:00:00Z",
    "9999-12-31", "0001-01-01", "2262-04-12", "3000-01-01", "soon", "x" * 300, "a,b", '"q"',
    "é", "日本", "\t", "view", "buy", "click", "purchase", "addtocart", "3.5", "-0.0", "1e-9",
    "true", "[1, 2]", "{a: 1}", "\\N",
]  # fmt: skip
COLUMNS = [
    "user_id", "item_id", "timestamp", "session_id", "event", "rating", "dwell", "item",
    "time", "userId", "movieId", "junk", "",
]  # fmt: skip


@contextlib.contextmanager
def deadline(seconds: int, what: str) -> Iterator[None]:
    def fire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"no result within {seconds}s for {what}")

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _run(fn: Callable[[], object], what: str) -> str:
    """'ok' or 'error' (an AutorecError); anything else propagates with the input named."""
    try:
        with deadline(PER_INPUT_S, what):
            fn()
    except AutorecError:
        return "error"
    except Exception as err:
        raise AssertionError(f"{type(err).__name__}: {err} for input {what}") from err
    return "ok"


GOOD = {
    "timestamp": ["1396867869", "2014-04-01T10:00:00Z", "2014-04-02", "1396867869000", "1e9"],
    "time": ["1396867869", "2014-04-01T10:00:00Z"],
    "event": ["view", "buy", "click", "purchase"],
    "rating": ["5", "4.5", "1", "3"],
    "dwell": ["1.5", "30", "0"],
}


def _cell(rng: random.Random, col: str = "") -> str:
    """Mostly a plausible value for the column (so parsing goes deep), else a nasty one."""
    if rng.random() < 0.75:
        good = GOOD.get(col)
        if good is not None:
            return rng.choice(good)
        if col:
            return rng.choice(["a", "b", "c", "u1", "u2", "17", "s1", "s2"])
    if rng.random() < 0.3:
        return str(rng.choice([rng.randint(-(10**12), 10**12), rng.random() * 1e10]))
    return rng.choice(NASTY)


def _table_text(rng: random.Random, sep: str) -> str:
    cols = rng.sample(COLUMNS, rng.randint(1, 6))
    if rng.random() < 0.7 and "item_id" not in cols:
        cols[0] = "item_id"
    if rng.random() < 0.7 and "timestamp" not in cols:
        cols.append("timestamp")
    lines = [sep.join(cols)]
    for _ in range(rng.randint(0, 12)):
        n = len(cols) + (rng.choice([-1, 1]) if rng.random() < 0.05 else 0)
        cells = [_cell(rng, cols[j] if j < len(cols) else "") for j in range(max(n, 0))]
        lines.append(sep.join(cells))
    return "\n".join(lines) + ("\n" if rng.random() < 0.9 else "")


def _data_file(rng: random.Random, folder: Path, i: int) -> Path:
    kind = rng.choice(["csv", "tsv", "jsonl", "csv.gz", "csv.gz-cut", "inter", "u.data"])
    if kind == "u.data":
        path = folder / f"{i}" / "u.data"
        path.parent.mkdir()
        path.write_text(_table_text(rng, "\t").split("\n", 1)[-1])
        return path
    path = folder / f"{i}.{kind.split('-')[0]}"
    if kind == "jsonl":
        cols = rng.sample(COLUMNS[:7], rng.randint(1, 5))
        for need in ("item_id", "timestamp"):
            if need not in cols and rng.random() < 0.8:
                cols.append(need)
        rows = [
            {c: rng.choice([_cell(rng, c), _cell(rng, c), rng.randint(-5, 10**15), None])
             for c in cols}
            for _ in range(rng.randint(0, 5))
        ]  # fmt: skip
        pd.DataFrame(rows).to_json(path, orient="records", lines=True)
        if rng.random() < 0.2:  # damage it
            text = path.read_text()
            path.write_text(text[: rng.randint(0, len(text))])
    elif kind.startswith("csv.gz"):
        packed = gzip.compress(_table_text(rng, ",").encode())
        path.write_bytes(packed[: rng.randint(0, len(packed))] if kind.endswith("cut") else packed)
    elif kind == "inter":
        text = _table_text(rng, "\t")
        path.write_text(text.replace("item_id", "item_id:token", 1))
    else:
        path.write_text(_table_text(rng, "\t" if kind == "tsv" else ","))
    return path


def _frame(rng: random.Random) -> pd.DataFrame:
    n = rng.randint(0, 8)
    pool: list[Callable[[], Any]] = [
        lambda: [_cell(rng, rng.choice(["timestamp", "item_id", "event"])) for _ in range(n)],
        lambda: np.array([rng.uniform(-1e20, 1e20) for _ in range(n)]),
        lambda: np.array([rng.choice([np.nan, np.inf, 5.0, -3.0]) for _ in range(n)]),
        lambda: [rng.choice([True, False]) for _ in range(n)],
        lambda: pd.to_datetime([rng.randint(0, 2**40) for _ in range(n)], unit="s"),
        lambda: pd.to_timedelta([rng.randint(0, 99) for _ in range(n)], unit="s"),
        lambda: [rng.choice([None, 1, "a", 2.5, b"x"]) for _ in range(n)],
    ]
    cols = rng.sample(COLUMNS[:7], rng.randint(1, 7))
    for need in ("item_id", "timestamp"):
        if need not in cols and rng.random() < 0.8:
            cols.append(need)
    good = lambda c: lambda: [_cell(rng, c) for _ in range(n)]  # noqa: E731
    return pd.DataFrame({c: rng.choice([*pool, good(c), good(c), good(c)])() for c in cols})


def _genome_text(rng: random.Random) -> str:
    family = rng.choice(["drnn", "predictor"] * 9 + ["bogus", None])
    schema = SCHEMAS.get(family or "drnn", SCHEMAS["drnn"])
    names = [*schema, "junk", "units_9"]
    lines = [] if family is None else [f"family: {family}"]
    values = [
        "16", "0", "-1", "1e-4", "1e400", ".nan", "10000000000000000000000000000000", "true",
        "relu", "[1, 2]", "{a: 1}", "''", "~", "&x 5", "*x", "!!python/object:os.system x",
        "\"x\"", "0x10", "2.0", "0.999", "'" + "y" * 500 + "'",
    ]  # fmt: skip
    for _ in range(rng.randint(0, 12)):
        name = rng.choice(names)
        spec = schema.get(name)
        if spec is not None and rng.random() < 0.6:  # a valid value, so checks go deep
            value = spec.choices[0] if spec.type == "str" else spec.default
            lines.append(f"{name}: {str(value).lower() if spec.type == 'bool' else value}")
        else:
            lines.append(f"{name}: {rng.choice(values)}")
    text = "\n".join(lines) + "\n"
    if rng.random() < 0.2:  # byte-level damage
        data = bytearray(text.encode())
        for _ in range(rng.randint(1, 4)):
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
        return data.decode("utf-8", errors="replace")
    return text


def test_fuzz_readers_and_genome_loader(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    rng = random.Random(SEED)
    counts: dict[str, dict[str, int]] = {}
    started = time.monotonic()
    slowest = 0.0

    def tally(name: str, outcome: str, t0: float) -> None:
        nonlocal slowest
        slowest = max(slowest, time.monotonic() - t0)
        counts.setdefault(name, {"ok": 0, "error": 0})[outcome] += 1

    i = 0
    # Round-robin (1 file, 1 table, 8 genomes per round) until the time budget is spent,
    # but never fewer than MIN_INPUTS inputs: a slow machine runs longer, not thinner.
    while True:
        total = sum(sum(c.values()) for c in counts.values())
        spent = time.monotonic() - started
        if total >= MAX_INPUTS or (total >= MIN_INPUTS and spent > BUDGET_S):
            break
        path = _data_file(rng, tmp_path, i)
        t0 = time.monotonic()
        tally("data files", _run(lambda p=path: read_events(p), f"file {path.name}"), t0)
        for _ in range(1):
            frame = _frame(rng)
            t0 = time.monotonic()
            tally("event tables", _run(lambda f=frame: normalise_events(f, "t"), "a table"), t0)
        for k in range(8):
            gpath = tmp_path / f"g{i}_{k}.yaml"
            gpath.write_text(_genome_text(rng), encoding="utf-8")
            t0 = time.monotonic()
            what = f"genome {gpath.read_text()!r}"
            tally("genomes", _run(lambda g=gpath: load_genome(g), what), t0)
        i += 1
    wall = time.monotonic() - started
    total = sum(sum(c.values()) for c in counts.values())
    report = f"fuzz: {total} inputs in {wall:.1f}s (slowest {slowest:.2f}s): {counts}"
    print(report)
    record_property("fuzz", report)
    assert total >= MIN_INPUTS
    for name, c in counts.items():  # both outcomes are exercised, or the generator is weak
        assert c["ok"] > 0 and c["error"] > 0, (name, c)

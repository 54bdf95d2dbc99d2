"""Finding 1: nobody who can write to the codegen cache can change the code a trial runs."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from autorec.errors import AutorecError
from autorec.genome import load_genome
from autorec.models import Dims, build_model
from autorec.models._build import default_cache_dir

REPO = Path(__file__).resolve().parents[2]
DIMS = Dims(n_pages=7, n_items=5, n_users=3)


def _payload(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').write('pwned')\nclass Net:\n    pass\n"


def test_file_swapped_right_after_each_write_never_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The attacker wins every race: each rename into the cache is followed at once by the
    # payload. The old code imported the file it had just written, by path.
    marker = tmp_path / "MARKER"
    cache = tmp_path / "cache"
    real_replace = os.replace

    def replace_then_plant(src: str, dst: str | os.PathLike[str]) -> None:
        real_replace(src, dst)
        if str(dst).endswith(".py"):
            Path(dst).write_text(_payload(marker), encoding="utf-8")

    monkeypatch.setattr(os, "replace", replace_then_plant)
    genome = load_genome(REPO / "examples" / "genomes" / "drnn_tiny.yaml")
    model = build_model(genome, DIMS, cache_dir=cache)
    assert not marker.exists()
    assert hasattr(model, "loss")  # the real generated Net, not the payload's


def test_racing_writer_loop_never_gets_its_payload_run(tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    cache = tmp_path / "cache"
    genome = load_genome(REPO / "examples" / "genomes" / "drnn_tiny.yaml")
    target = cache / f"{genome.key}_p{DIMS.n_pages}_i{DIMS.n_items}_u{DIMS.n_users}.py"
    cache.mkdir(mode=0o700)
    stop = threading.Event()

    def attacker() -> None:
        while not stop.is_set():
            tmp = cache / ".evil"
            tmp.write_text(_payload(marker), encoding="utf-8")
            os.replace(tmp, target)

    thread = threading.Thread(target=attacker, daemon=True)
    thread.start()
    try:
        for _ in range(20):
            build_model(genome, DIMS, cache_dir=cache)
    finally:
        stop.set()
        thread.join()
    assert not marker.exists()


def test_default_cache_is_private_to_the_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AUTOREC_CODEGEN_CACHE", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    root = default_cache_dir()
    assert root.name == f"autorec-codegen-{os.geteuid()}"
    root.mkdir(mode=0o777)
    os.chmod(root, 0o777)  # a loose mode of one's own folder is tightened
    genome = load_genome(REPO / "examples" / "genomes" / "drnn_tiny.yaml")
    build_model(genome, DIMS)
    st = os.lstat(root)
    assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == os.geteuid()


def test_cache_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to make a folder owned by another user")
    cache = tmp_path / "theirs"
    cache.mkdir(mode=0o700)
    os.chown(cache, 65534, 65534)
    genome = load_genome(REPO / "examples" / "genomes" / "drnn_tiny.yaml")
    with pytest.raises(AutorecError, match="owned by uid 65534"):
        build_model(genome, DIMS, cache_dir=cache)


def test_symlinked_or_world_writable_cache_is_refused(tmp_path: Path) -> None:
    genome = load_genome(REPO / "examples" / "genomes" / "drnn_tiny.yaml")
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(AutorecError, match="symlink"):
        build_model(genome, DIMS, cache_dir=link)
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    os.chmod(open_dir, 0o777)
    with pytest.raises(AutorecError, match="writable by others"):
        build_model(genome, DIMS, cache_dir=open_dir)

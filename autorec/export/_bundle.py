"""The production bundle (format v2): writing it atomically and loading it back.

A bundle is a directory::

    BUNDLE/
      manifest.json        format_version, versions, family, Net kwargs, dims, sha256 of files
      model.py             the generated network source: class Net (imports torch and runtime)
      runtime.py           the runtime model.py imports (a copy of codegen/runtime.py)
      weights.safetensors  the unsharded state dict of Net
      genome.yaml          the genome (family + one key per gene)
      item_map.json        ["raw item id of output index 0", ...]
      page_map.json        sessions only: {"pages": [raw page id ...], "page_item": [item idx | -1]}
      user_map.json        optional: ["raw user id of index 0", ...]
      metrics.json         validation/test metrics of the exported model
      data_card.json       dataset, protocol, split dates, catalogue size, counts, created
      load.py              torch-only loader and scorer (a copy of autorec/export/standalone.py)

Every file but the manifest is listed in ``manifest["files"]`` with its sha256;
:func:`load_bundle` refuses a bundle whose files are missing or changed, that holds a file
the manifest does not list, or whose ``format_version`` is newer than this autorec reads.
It runs ``model.py`` from the very bytes it checked. A bundle is code: load bundles only from
a source you trust. With ``$AUTOREC_BUNDLE_KEY`` set at export the manifest is signed
(HMAC-SHA256); with it set at load an unsigned or wrongly signed bundle is refused.

A bundle is built in a temporary folder beside the target and renamed into place; an
existing bundle is swapped with the new one in one ``renameat2(RENAME_EXCHANGE)`` call on
Linux (two renames with roll-back elsewhere), so a reader sees either the old bundle or the
new one, never a half-written one.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import yaml

import codegen
from autorec._io import atomic_dir, atomic_write_text, json_safe, utc_now, write_json
from autorec.errors import AutorecError
from autorec.export import standalone

__all__ = [
    "FORMAT_VERSION",
    "Bundle",
    "BundleContents",
    "gather_state_dict",
    "load_bundle",
    "model_version_of",
    "read_manifest",
    "sha256_file",
    "write_bundle",
]

#: The bundle format this autorec writes and the newest it reads.
FORMAT_VERSION = 2
FORMAT_NAME = "autorec-bundle"

MANIFEST = "manifest.json"
MODEL = "model.py"
WEIGHTS = "weights.safetensors"
GENOME = "genome.yaml"
ITEM_MAP = "item_map.json"
PAGE_MAP = "page_map.json"
USER_MAP = "user_map.json"
METRICS = "metrics.json"
DATA_CARD = "data_card.json"
LOADER = "load.py"
RUNTIME = "runtime.py"

#: Files every bundle has (besides the manifest).
REQUIRED = (MODEL, WEIGHTS, GENOME, ITEM_MAP, METRICS, DATA_CARD, LOADER)
#: Files a bundle of format 2 or newer has besides (its model.py imports the runtime); format
#: 1 (a self-contained model.py, no runtime.py) is still read.
REQUIRED_SINCE_2 = (RUNTIME,)

_REEXPORT = "re-export the bundle with `autorec export RUN_DIR --out BUNDLE`"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def gather_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The one unsharded state dict of ``model``, on the CPU, every tensor its own storage.

    THE SHARDING HOOK: a model-parallel (sharded) network that defines
    ``gather_state_dict() -> dict[str, Tensor]`` (its item-sized layers concatenated back
    into the unsharded parameter names of ``Net``) is asked for it here; every other module
    goes through :func:`autorec.sharding.gathered_state_dict`, which gathers the shards of a
    generated network built for several devices and is the ordinary ``state_dict()`` of an
    unsharded one. This is the only place export looks at shards.
    """
    gather: Callable[[], Mapping[str, torch.Tensor]] | None = getattr(
        model, "gather_state_dict", None
    )
    if callable(gather):
        state = gather()
    else:
        from autorec.sharding import gathered_state_dict

        state = gathered_state_dict(model)
    # safetensors refuses tensors sharing storage: give each its own contiguous CPU copy.
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}


def model_version_of(genome_key: str, weights_sha256: str) -> str:
    """``<genome key>-<first 8 hex of the weights' sha256>``: changes with every retrain."""
    return f"{genome_key}-{weights_sha256[:8]}"


@dataclass(frozen=True)
class BundleContents:
    """Everything :func:`write_bundle` writes. ``item_ids[j]`` is the raw id of output
    column ``j`` of ``Net``; ``page_ids`` / ``page_item`` are the session family's page map
    (``page_item[p]`` = the item index page ``p`` shows, or -1)."""

    family: str
    genome: Mapping[str, Any]
    genome_key: str
    model_source: str
    state_dict: Mapping[str, torch.Tensor]
    net_kwargs: Mapping[str, Any]
    dims: Mapping[str, int]
    item_ids: Sequence[str]
    metrics: Mapping[str, Any]
    data_card: Mapping[str, Any]
    page_ids: Sequence[str] | None = None
    page_item: Sequence[int] | None = None
    user_ids: Sequence[str] | None = None
    extra_manifest: Mapping[str, Any] = field(default_factory=dict)
    #: further JSON files (name -> value), listed and checked like the others
    extra_json: Mapping[str, Any] = field(default_factory=dict)


def _standalone_source() -> str:
    return (Path(__file__).with_name("standalone.py")).read_text(encoding="utf-8")


def _write_files(contents: BundleContents, tmp: Path) -> dict[str, Any]:
    """Write every file of the bundle into ``tmp`` and return the manifest (also written)."""
    from safetensors.torch import save_file

    atomic_write_text(tmp / MODEL, contents.model_source)
    shutil.copyfile(codegen.RUNTIME_PATH, tmp / RUNTIME)
    save_file(dict(contents.state_dict), str(tmp / WEIGHTS), metadata={"format": "pt"})
    with open(tmp / GENOME, "w", encoding="utf-8") as fh:
        yaml.safe_dump(dict(contents.genome), fh, sort_keys=False)
    write_json(tmp / ITEM_MAP, [str(i) for i in contents.item_ids], ascii=False)
    if contents.page_ids is not None:
        page_item = (
            [int(i) for i in contents.page_item]
            if contents.page_item is not None
            else [-1] * len(contents.page_ids)
        )
        if len(page_item) != len(contents.page_ids):
            raise ValueError("page_item and page_ids differ in length")
        pages = {"pages": [str(p) for p in contents.page_ids], "page_item": page_item}
        write_json(tmp / PAGE_MAP, pages, ascii=False)
    if contents.user_ids is not None:
        write_json(tmp / USER_MAP, [str(u) for u in contents.user_ids], ascii=False)
    write_json(tmp / METRICS, dict(contents.metrics), ascii=False)
    write_json(tmp / DATA_CARD, dict(contents.data_card), ascii=False)
    for name, value in contents.extra_json.items():
        write_json(tmp / name, value, ascii=False)
    atomic_write_text(tmp / LOADER, _standalone_source())

    files = {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.name != MANIFEST}
    import safetensors

    manifest: dict[str, Any] = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "created": utc_now(),
        "autorec_version": _autorec_version(),
        "torch_version": torch.__version__,
        "safetensors_version": getattr(safetensors, "__version__", "unknown"),
        "python_version": platform.python_version(),
        "family": contents.family,
        "genome_key": contents.genome_key,
        "model_version": model_version_of(contents.genome_key, files[WEIGHTS]),
        "net": {"module": MODEL, "class": "Net", "kwargs": dict(contents.net_kwargs)},
        "dims": {k: int(v) for k, v in contents.dims.items()},
        "n_items": len(contents.item_ids),
        **dict(contents.extra_manifest),
        "files": files,
    }
    manifest = json_safe(manifest)  # what is signed is what the file holds
    key = os.environ.get(standalone.KEY_ENV)
    if key:
        manifest["signature"] = {"hmac_sha256": standalone.signature_of(manifest, key)}
    write_json(tmp / MANIFEST, manifest, ascii=False)
    return manifest


def _autorec_version() -> str:
    import autorec

    return str(autorec.__version__)


def write_bundle(contents: BundleContents, out: str | Path) -> dict[str, Any]:
    """Write the bundle to ``out`` atomically and return its manifest.

    The files are written into ``.<name>.tmp-*`` beside ``out`` and renamed into place only
    when all of them are complete; on any error the temporary folder is removed and an
    existing bundle at ``out`` is left untouched. ``out`` may be a previous bundle (it is
    replaced) or absent; an existing folder that is not a bundle is refused.
    """
    target = Path(out).absolute()
    if target.exists():
        if not target.is_dir():
            raise AutorecError(
                f"--out {out}",
                "exists and is not a folder",
                "pass a new folder name or an existing bundle to replace",
            )
        # a bundle, or a network saved by an older autorec (train.json, no manifest)
        ours = (target / MANIFEST).is_file() or (target / "train.json").is_file()
        if any(target.iterdir()) and not ours:
            raise AutorecError(
                f"--out {out}",
                "is a non-empty folder that is not an autorec bundle (no manifest.json)",
                "pass a new folder name; export only replaces an existing bundle",
            )
    with atomic_dir(target) as tmp:
        manifest = _write_files(contents, tmp)
    return manifest


# --------------------------------------------------------------------------------------
# loading


@dataclass
class Bundle:
    """A loaded, verified bundle. ``model`` is ``Net`` in eval mode with the bundle's
    weights; ``item_ids[j]`` is the raw id of output column ``j``."""

    path: Path
    manifest: dict[str, Any]
    model: torch.nn.Module
    module: types.ModuleType
    genome: dict[str, Any]
    item_ids: npt.NDArray[np.str_]
    metrics: dict[str, Any]
    data_card: dict[str, Any]
    page_ids: npt.NDArray[np.str_] | None = None
    page_item: npt.NDArray[np.int64] | None = None
    user_ids: npt.NDArray[np.str_] | None = None

    @property
    def family(self) -> str:
        return str(self.manifest["family"])

    @property
    def model_version(self) -> str:
        return str(self.manifest["model_version"])

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @torch.no_grad()
    def score(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Item logits ``[B, n_items]`` of ``Net.forward(batch)`` (eval mode, no grad)."""
        self.model.eval()
        logits: torch.Tensor = self.model(dict(batch))
        return logits


def _read_json(path: Path, name: str) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as err:
        raise AutorecError(
            f"bundle file {path}", f"{name} is not valid JSON ({err.msg})", _REEXPORT
        ) from None


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The verified manifest of the bundle at ``path`` (format and checksums checked)."""
    root = Path(path)
    if not root.is_dir():
        raise AutorecError(
            f"bundle {path}", "no such folder", "pass the folder written by `autorec export`"
        )
    mpath = root / MANIFEST
    if not mpath.is_file():
        raise AutorecError(
            f"bundle {path}", "has no manifest.json, so it is not an autorec bundle", _REEXPORT
        )
    manifest = _read_json(mpath, MANIFEST)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise AutorecError(f"bundle file {mpath}", "is not an autorec bundle manifest", _REEXPORT)
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise AutorecError(
            f"bundle file {mpath}", f"format_version {version!r} is not an integer", _REEXPORT
        )
    if version > FORMAT_VERSION:
        raise AutorecError(
            f"bundle {path}",
            f"was written in bundle format {version} by a newer autorec "
            f"({manifest.get('autorec_version', '?')}); this autorec reads format "
            f"{FORMAT_VERSION} and older",
            "upgrade autorec (pip install -U autorec) or re-export with this version",
        )
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise AutorecError(f"bundle file {mpath}", "has no 'files' checksum table", _REEXPORT)
    for name in REQUIRED + (REQUIRED_SINCE_2 if version >= 2 else ()):
        if name not in files:
            raise AutorecError(f"bundle {path}", f"manifest lists no {name}", _REEXPORT)
    problem = standalone.listing_problem(str(root), files) or standalone.signature_problem(
        manifest, os.environ.get(standalone.KEY_ENV)
    )
    if problem:
        raise AutorecError(f"bundle {path}", problem, _REEXPORT + " from a trusted source")
    for name, digest in files.items():
        fpath = root / name
        if not fpath.is_file():
            raise AutorecError(f"bundle file {fpath}", f"{name} is missing", _REEXPORT)
        _check_digest(fpath, sha256_file(fpath), digest)
    return manifest


def _check_digest(fpath: Path, actual: str, digest: Any) -> None:
    if actual != digest:
        raise AutorecError(
            f"bundle file {fpath}",
            f"sha256 {actual[:16]}… does not match the manifest's {str(digest)[:16]}… "
            "(the file was changed or corrupted after export)",
            _REEXPORT,
        )


def _read_checked(root: Path, manifest: Mapping[str, Any], name: str) -> bytes:
    """The bytes of ``name``, read once and checked against the manifest: what is used is
    what was checked, however the file changes afterwards."""
    data = (root / name).read_bytes()
    _check_digest(root / name, hashlib.sha256(data).hexdigest(), manifest["files"][name])
    return data


def import_model_module(
    path: Path, data: bytes | None = None, runtime: bytes | None = None
) -> types.ModuleType:
    """Import a bundle's ``model.py`` (its checked bytes ``data``, else the file read once)
    as a module of a package of its own (never via sys.path or a ``__pycache__`` entry); with
    the checked bytes of the bundle's ``runtime.py`` its ``from . import runtime`` runs them
    (:func:`autorec.export.standalone.import_checked`, what ``load.py`` does)."""
    source = Path(path).read_bytes() if data is None else data
    try:
        module: types.ModuleType = standalone.import_checked(str(path), source, runtime)
    except Exception as err:  # a syntax error etc. in the bundle's own source
        raise AutorecError(
            f"bundle file {path}", f"fails to import ({type(err).__name__}: {err})", _REEXPORT
        ) from None
    return module


def load_bundle(path: str | Path, *, device: str | torch.device = "cpu") -> Bundle:
    """Verify and load the bundle at ``path``.

    Checks the manifest (format, ``format_version`` <= :data:`FORMAT_VERSION`, sha256 of
    every listed file), imports ``model.py`` with importlib from the bundle, builds
    ``Net(**manifest["net"]["kwargs"])`` and loads ``weights.safetensors`` into it
    (strict: every parameter present, no extra). Raises :class:`AutorecError` naming the
    file and saying to re-export when anything does not match.
    """
    from safetensors.torch import load

    root = Path(path)
    manifest = read_manifest(root)
    runtime = _read_checked(root, manifest, RUNTIME) if RUNTIME in manifest["files"] else None
    module = import_model_module(root / MODEL, _read_checked(root, manifest, MODEL), runtime)
    net_cls = getattr(module, str(manifest["net"].get("class", "Net")), None)
    if net_cls is None:
        raise AutorecError(f"bundle file {root / MODEL}", "defines no class Net", _REEXPORT)
    kwargs = manifest["net"].get("kwargs", {})
    try:
        model: torch.nn.Module = net_cls(**kwargs)
        state = load(_read_checked(root, manifest, WEIGHTS))
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, OSError) as err:
        raise AutorecError(
            f"bundle {path}",
            f"weights.safetensors does not fit model.py's Net ({str(err).splitlines()[0]})",
            _REEXPORT,
        ) from None
    model.to(device).eval()
    with open(root / GENOME, encoding="utf-8") as fh:
        genome = yaml.safe_load(fh)
    item_ids = np.asarray(_read_json(root / ITEM_MAP, ITEM_MAP), dtype=np.str_)
    page_ids = page_item = user_ids = None
    if (root / PAGE_MAP).is_file() and PAGE_MAP in manifest["files"]:
        pm = _read_json(root / PAGE_MAP, PAGE_MAP)
        page_ids = np.asarray(pm["pages"], dtype=np.str_)
        page_item = np.asarray(pm["page_item"], dtype=np.int64)
    if (root / USER_MAP).is_file() and USER_MAP in manifest["files"]:
        user_ids = np.asarray(_read_json(root / USER_MAP, USER_MAP), dtype=np.str_)
    return Bundle(
        path=root,
        manifest=manifest,
        model=model,
        module=module,
        genome=dict(genome),
        item_ids=item_ids,
        metrics=dict(_read_json(root / METRICS, METRICS)),
        data_card=dict(_read_json(root / DATA_CARD, DATA_CARD)),
        page_ids=page_ids,
        page_item=page_item,
        user_ids=user_ids,
    )

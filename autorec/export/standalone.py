"""Load an autorec bundle and score with torch + safetensors alone (no autorec needed).

Every bundle carries a copy of this file as ``load.py``. Use it as a module::

    import importlib.util
    spec = importlib.util.spec_from_file_location("bundle_load", "BUNDLE/load.py")
    load = importlib.util.module_from_spec(spec); spec.loader.exec_module(load)
    bundle = load.load("BUNDLE")                       # checks sha256 of every file
    scores = bundle.score_customer(["50", "172"])      # purchase family: raw item ids
    scores = bundle.score_session(["p1", "p9"], [12.0, 40.0])   # session family: raw page ids
                                                    # (an unknown page id is a BundleError)
    print(bundle.top_k(scores, 10, exclude=["50", "172"]))

or as a script: ``python BUNDLE/load.py BUNDLE --items 50 172 --k 10`` (or ``--pages``).

A bundle is code: ``model.py`` runs when it is loaded. Load bundles only from a source you
trust. The loader refuses a bundle holding any file its manifest does not list, or whose
manifest does not list model.py, the weights and the item map; it runs ``model.py`` from the
bytes whose sha256 it checked (never a ``__pycache__`` entry). With ``$AUTOREC_BUNDLE_KEY`` set
it also requires the manifest's HMAC-SHA256 signature made with that key at export.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import importlib.abc
import importlib.util
import io
import itertools
import json
import math
import os
import sys
import types
from collections.abc import Sequence
from typing import Any

import torch
from safetensors.torch import load as load_safetensors

FORMAT_VERSION = 2  # the newest bundle format this loader reads (2: model.py + runtime.py)
#: Files every bundle's manifest must list (the code, the weights, the item map).
REQUIRED = ("model.py", "weights.safetensors", "item_map.json", "load.py")
#: Environment variable holding the key of the manifest's optional HMAC signature.
KEY_ENV = "AUTOREC_BUNDLE_KEY"
#: Folders a bundle may hold that no loader reads (Python writes them beside imported code).
IGNORED = ("__pycache__",)


class BundleError(ValueError):
    """The bundle is incomplete, changed after export, or from a newer format."""


def signature_of(manifest: dict[str, Any], key: str) -> str:
    """HMAC-SHA256 (hex) of the manifest without its ``signature`` field, in canonical JSON."""
    body = {k: v for k, v in manifest.items() if k != "signature"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()


def signature_problem(manifest: dict[str, Any], key: str | None) -> str | None:
    """Why the manifest's signature fails for ``key`` (None: no key set, or it is good)."""
    if not key:
        return None
    sig = manifest.get("signature")
    value = sig.get("hmac_sha256") if isinstance(sig, dict) else None
    if not isinstance(value, str):
        return f"is not signed, but ${KEY_ENV} is set"
    if not hmac.compare_digest(value, signature_of(manifest, key)):
        return f"signature does not match ${KEY_ENV} (changed, or signed with another key)"
    return None


def listing_problem(root: str, files: Any) -> str | None:
    """Why the folder's entries and the manifest's file table disagree (None: they agree):
    a required file unlisted, a name that is not a plain file name, or an unlisted entry."""
    if not isinstance(files, dict):
        return "manifest.json has no 'files' checksum table"
    for name in REQUIRED:
        if name not in files:
            return f"manifest.json lists no {name}"
    for name in files:
        if not isinstance(name, str) or os.path.basename(name) != name or name in ("", ".", ".."):
            return f"manifest.json lists a bad file name {name!r}"
    for entry in sorted(os.listdir(root)):
        if entry in files or entry == "manifest.json":
            continue
        if entry in IGNORED and os.path.isdir(os.path.join(root, entry)):
            continue
        return f"{entry!r} is in the bundle but not in manifest.json (unlisted files are refused)"
    return None


def _read_verified(root: str, files: dict[str, Any]) -> dict[str, bytes]:
    """Every listed file's bytes, each read once and checked against its sha256, so what is
    used afterwards is exactly what was checked."""
    out: dict[str, bytes] = {}
    for name, digest in files.items():
        path = os.path.join(root, name)
        if not os.path.isfile(path):
            raise BundleError(f"{path}: missing; re-export the bundle")
        with open(path, "rb") as fh:
            data = fh.read()
        if hashlib.sha256(data).hexdigest() != digest:
            raise BundleError(f"{path}: sha256 does not match manifest.json; re-export the bundle")
        out[name] = data
    return out


class _BytesLoader(importlib.abc.SourceLoader):
    """Source loader over checked bytes (this file is standalone, so it cannot share autorec's)."""

    def __init__(self, path: str, data: bytes) -> None:
        self._path, self._data = path, data

    def get_filename(self, fullname: str) -> str:
        return self._path

    def get_data(self, path: str) -> bytes:
        if path != self._path:  # a cached .pyc: never read one
            raise OSError(path)
        return self._data


_PACKAGES = itertools.count()


def _exec_checked(name: str, path: str, data: bytes) -> Any:
    loader = _BytesLoader(path, data)
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses (the runtime's configs) look modules up by name
    loader.exec_module(module)
    return module


def import_checked(path: str, data: bytes, runtime: bytes | None = None) -> Any:
    """Import a bundle's checked ``model.py`` bytes as a module of a package of its own; with
    the checked bytes of its ``runtime.py`` (format 2) that package's ``runtime`` is them, so
    the model's ``from . import runtime as rt`` runs exactly the bundle's runtime."""
    package = f"_autorec_bundle_{next(_PACKAGES)}"
    holder = types.ModuleType(package)
    holder.__path__ = []  # a package without a folder: its modules come from checked bytes
    sys.modules[package] = holder
    if runtime is not None:
        rt_path = os.path.join(os.path.dirname(path), "runtime.py")
        holder.runtime = _exec_checked(f"{package}.runtime", rt_path, runtime)  # type: ignore[attr-defined]
    return _exec_checked(f"{package}.model", path, data)


class LoadedBundle:
    """``model`` (Net, eval mode) and the id maps of one verified bundle."""

    def __init__(self, root: str) -> None:
        self.root = root
        if not os.path.isfile(os.path.join(root, "manifest.json")):
            raise BundleError(f"{root}: no manifest.json; re-export the bundle")
        try:
            with open(os.path.join(root, "manifest.json"), encoding="utf-8") as fh:
                self.manifest: dict[str, Any] = json.load(fh)
        except ValueError as err:
            raise BundleError(f"{root}: manifest.json is not JSON ({err}); re-export") from None
        if not isinstance(self.manifest, dict):
            raise BundleError(f"{root}: manifest.json is not an object; re-export the bundle")
        version = self.manifest.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise BundleError(
                f"{root}: bundle format {version!r} is newer than this loader "
                f"reads ({FORMAT_VERSION}); use a newer load.py"
            )
        problem = listing_problem(root, self.manifest.get("files")) or signature_problem(
            self.manifest, os.environ.get(KEY_ENV)
        )
        if problem:
            raise BundleError(f"{root}: {problem}; re-export the bundle from a trusted source")
        data = _read_verified(root, self.manifest["files"])
        net = self.manifest["net"]
        if version >= 2 and "runtime.py" not in data:
            raise BundleError(f"{root}: format {version} bundle lists no runtime.py; re-export")
        path = os.path.join(root, "model.py")
        module = import_checked(path, data["model.py"], data.get("runtime.py"))
        self.model: torch.nn.Module = getattr(module, net.get("class", "Net"))(**net["kwargs"])
        self.model.load_state_dict(load_safetensors(data["weights.safetensors"]))
        self.model.eval()
        self.family: str = self.manifest["family"]
        self.inputs: dict[str, Any] = self.manifest.get("inputs", {})
        self.item_ids: list[str] = json.load(io.BytesIO(data["item_map.json"]))
        self.item_index = {item: j for j, item in enumerate(self.item_ids)}
        if "page_map.json" in self.manifest["files"]:
            page_map = json.load(io.BytesIO(data["page_map.json"]))
            self.page_ids: list[str] = page_map["pages"]
            self.page_item: list[int] = page_map["page_item"]
            self.page_index = {page: p for p, page in enumerate(self.page_ids)}

    @torch.no_grad()
    def score(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Item logits [B, n_items] of the network for a batch dict."""
        logits: torch.Tensor = self.model(batch)
        return logits

    def customer_batch(
        self, items: Sequence[str], ages: Sequence[float] | None = None
    ) -> dict[str, torch.Tensor]:
        """Predictor batch of one customer: purchased raw item ids (unknown ids are dropped)
        and each purchase's age in days before now (default 0)."""
        ages = [0.0] * len(items) if ages is None else list(ages)
        keep = [
            (self.item_index[i], a)
            for i, a in zip(items, ages, strict=True)
            if i in self.item_index
        ]
        long, flt = torch.long, torch.float32
        return {
            "x_idx": torch.tensor([j for j, _ in keep], dtype=long),
            "x_offsets": torch.zeros(1, dtype=long),
            "x_age": torch.tensor([a for _, a in keep], dtype=flt),
            "y_idx": torch.zeros(0, dtype=long),
            "y_offsets": torch.zeros(1, dtype=long),
        }

    def session_batch(
        self,
        pages: Sequence[str],
        dwell: Sequence[float] | None = None,
        history_items: Sequence[str] = (),
    ) -> dict[str, torch.Tensor]:
        """DRNN batch of one session prefix: raw page ids in view order, seconds spent on
        each (θ; the last page's is unknown and set to 0), and the raw ids of items the user
        bought before the session. Unknown pages and items are dropped."""
        dwell = [0.0] * len(pages) if dwell is None else list(dwell)
        cap = float(self.inputs.get("dwell_cap_s", 3600.0))
        # θ: seconds clipped to [0, cap] (NaN -> 0); the prefix's last page has θ = 0
        kept = [
            (self.page_index[p], min(max(float(d), 0.0), cap) if d == d else 0.0)
            for p, d in zip(pages, dwell, strict=True)
            if p in self.page_index
        ]
        if kept:
            kept[-1] = (kept[-1][0], 0.0)
        width = int(self.inputs["width"])
        pad = int(self.inputs["n_pages"])
        recent, older = kept[-width:], kept[:-width] if len(kept) > width else []
        page_row = [pad] * (width - len(recent)) + [p for p, _ in recent]
        dwell_row = [0.0] * (width - len(recent)) + [math.log1p(d) for _, d in recent]
        # history state weights (DRNN Sec. III.C): ε_i = θ_i / Σ_{j>=i} θ_j, 1/(pages left) if 0
        hist_w = []
        for i, (_, d) in enumerate(older):
            rest = sum(t for _, t in older[i:])
            hist_w.append(d / rest if rest > 0 else 1.0 / (len(older) - i))
        counts: dict[int, int] = {}
        for p, _ in kept:
            if self.page_item[p] >= 0:
                counts[self.page_item[p]] = counts.get(self.page_item[p], 0) + 1
        user = sorted({self.item_index[i] for i in history_items if i in self.item_index})
        long, flt = torch.long, torch.float32
        return {
            "pages": torch.tensor([page_row], dtype=long),
            "dwell": torch.tensor([dwell_row], dtype=flt),
            "hist_idx": torch.tensor([p for p, _ in older], dtype=long),
            "hist_offsets": torch.zeros(1, dtype=long),
            "hist_weight": torch.tensor(hist_w, dtype=flt),
            "user_idx": torch.tensor(user, dtype=long),
            "user_offsets": torch.zeros(1, dtype=long),
            "viewed_idx": torch.tensor(sorted(counts), dtype=long),
            "viewed_offsets": torch.zeros(1, dtype=long),
            "viewed_weight": torch.tensor([float(counts[i]) for i in sorted(counts)], dtype=flt),
            "target_idx": torch.zeros(0, dtype=long),
            "target_offsets": torch.zeros(1, dtype=long),
        }

    def score_customer(
        self, items: Sequence[str], ages: Sequence[float] | None = None
    ) -> torch.Tensor:
        """Scores [n_items] of one customer from raw item ids (purchase family)."""
        return self.score(self.customer_batch(items, ages))[0]

    def score_session(
        self,
        pages: Sequence[str],
        dwell: Sequence[float] | None = None,
        history_items: Sequence[str] = (),
    ) -> torch.Tensor:
        """Scores [n_items] of one session from raw page ids (session family). A page id
        the bundle does not know is an error (``BundleError`` naming it): a typo would
        otherwise score a different session without a word."""
        unknown = [p for p in pages if p not in self.page_index]
        if unknown:
            raise BundleError(
                f"{self.root}: unknown page id(s) {unknown[:5]} ({len(unknown)} of "
                f"{len(pages)}); use ids from page_map.json (e.g. {self.page_ids[:3]})"
            )
        return self.score(self.session_batch(pages, dwell, history_items))[0]

    def top_k(
        self, scores: torch.Tensor, k: int = 10, exclude: Sequence[str] = ()
    ) -> list[tuple[str, float]]:
        """The k best (raw item id, score), ``exclude`` (e.g. already bought) left out."""
        scores = scores.clone()
        drop = [self.item_index[i] for i in exclude if i in self.item_index]
        if drop:
            scores[torch.tensor(drop)] = -math.inf
        values, index = torch.topk(scores, min(k, len(self.item_ids)))
        return [
            (self.item_ids[int(j)], float(v))
            for v, j in zip(values, index, strict=True)
            if v != -math.inf
        ]


def load(root: str) -> LoadedBundle:
    """Verify (sha256 of every file, format version) and load the bundle at ``root``."""
    return LoadedBundle(os.fspath(root))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Score one customer or session with a bundle.")
    parser.add_argument("bundle", nargs="?", default=os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--items", nargs="*", default=None, help="raw item ids bought (customer)")
    parser.add_argument("--ages", nargs="*", type=float, default=None, help="days since each")
    parser.add_argument("--pages", nargs="*", default=None, help="raw page ids viewed (session)")
    parser.add_argument("--dwell", nargs="*", type=float, default=None, help="seconds on each")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--scores", action="store_true", help="print every item's score")
    args = parser.parse_args(argv)
    try:
        bundle = load(args.bundle)
    except BundleError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if bundle.family == "drnn":
        pages = args.pages or []
        try:
            scores = bundle.score_session(pages, args.dwell)
        except BundleError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        exclude: list[str] = []
    else:
        items = args.items or []
        scores = bundle.score_customer(items, args.ages)
        exclude = items
    out: dict[str, Any] = {
        "model_version": bundle.manifest["model_version"],
        "top": bundle.top_k(scores, args.k, exclude),
    }
    if args.scores:
        out["scores"] = [float(s) for s in scores]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

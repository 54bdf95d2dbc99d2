"""Package boundaries: no module imports another package's private modules or names.

A package's public names are those its ``__init__`` re-exports in ``__all__``; a module of
``autorec.export`` may import ``autorec.export._bundle``, but ``autorec.cli`` takes
``autorec.export.write_bundle`` instead. ``autorec._io`` and the other private modules at the
top of ``autorec`` belong to the whole package and may be imported by any of its packages.
``examples/`` is held to the same rule: its benchmarks and reproductions use autorec as a
user would, through public names only.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("autorec", "codegen")
#: Code outside the packages that uses them as a user would: public names only.
USERS = ("examples",)


def _module_of(path: Path) -> list[str]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _package_of(path: Path) -> tuple[str, ...]:
    """The package a file belongs to: ``autorec/export/_bundle.py`` -> ``autorec.export``."""
    return tuple(path.relative_to(ROOT).parts[:-1])


def _owner(module: list[str]) -> tuple[str, ...] | None:
    """The package holding the first private part of ``module`` (None: nothing private):
    ``autorec.export._bundle`` and ``autorec.cli.search._stop`` -> ``autorec.export`` and
    ``autorec.cli``."""
    for i, part in enumerate(module):
        if part.startswith("_") and not part.startswith("__"):
            owner = tuple(module[:i])
            while owner and not (ROOT.joinpath(*owner) / "__init__.py").is_file():
                owner = owner[:-1]  # a private name in a module: that module's package
            return owner
    return None


def _crossing(path: Path) -> list[str]:
    """``file:line module`` for each import in ``path`` of another package's private part."""
    here = _package_of(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        targets: list[list[str]] = []
        if isinstance(node, ast.Import):
            targets = [alias.name.split(".") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            # a relative import counts from the file's package (``from .x`` is a sibling)
            up = list(here[: len(here) - node.level + 1]) if node.level else []
            base = [*up, *(node.module or "").split(".")] if node.module else up
            targets = [[*base, alias.name] for alias in node.names]
        for module in targets:
            if module[0] not in PACKAGES:
                continue
            owner = _owner(module)
            # a private part is fine inside its owner's tree (a package's own modules, and the
            # top-level private modules of autorec for every autorec package)
            if owner is None or here[: len(owner)] == owner:
                continue
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {'.'.join(module)}")
    return found


def cross_package_private_imports() -> list[str]:
    out: list[str] = []
    for package in (*PACKAGES, *USERS):
        for path in sorted((ROOT / package).rglob("*.py")):
            out.extend(_crossing(path))
    return out


def test_no_cross_package_private_imports() -> None:
    found = cross_package_private_imports()
    assert found == [], "import these through the owning package's __init__:\n" + "\n".join(found)


def test_the_scan_finds_owners() -> None:
    # the scanner itself: which package a private part belongs to
    probe = ROOT / "autorec" / "cli" / "__init__.py"
    assert _package_of(probe) == ("autorec", "cli")
    assert _owner(["autorec", "export", "_bundle", "write_bundle"]) == ("autorec", "export")
    assert _owner(["autorec", "_io", "write_json"]) == ("autorec",)
    assert _owner(["autorec", "cli", "search", "_stop"]) == ("autorec", "cli")
    assert _owner(["autorec", "export", "write_bundle"]) is None
    assert _crossing(probe) == []

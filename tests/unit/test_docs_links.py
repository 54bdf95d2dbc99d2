"""The documentation holds together: every relative link of README.md and docs/ names a file
that exists (and a heading of it, for ``#anchor`` links), docs/index.md links every page, and
every ``docs/design.md#anchor`` that a docstring or comment cites is a heading of that page."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
PAGES = [REPO / "README.md", *sorted(DOCS.rglob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.M | re.S)
    return {_slug(m) for m in re.findall(r"^#{1,6} (.+)$", text, flags=re.M)}


def _links(page: Path) -> list[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.M | re.S)
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t)]


def test_relative_links_resolve() -> None:
    broken = []
    for page in PAGES:
        for target in _links(page):
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists():
                broken.append(f"{page.relative_to(REPO)}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"{page.relative_to(REPO)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_index_links_every_page() -> None:
    index = DOCS / "index.md"
    linked = {(index.parent / t.partition("#")[0]).resolve() for t in _links(index)}
    missing = [str(p.relative_to(REPO)) for p in DOCS.rglob("*.md") if p != index]
    assert [p for p in missing if (REPO / p).resolve() not in linked] == []


def test_design_references_name_its_headings() -> None:
    anchors = _anchors(DOCS / "design.md")
    cited = []
    for folder in ("autorec", "codegen", "examples", "tests"):
        for source in (REPO / folder).rglob("*.py"):
            text = source.read_text(encoding="utf-8")
            if source.resolve() == Path(__file__).resolve():
                continue
            assert "DESIGN" not in text, f"{source}: cite docs/design.md#<section> instead"
            cited += [(source, a) for a in re.findall(r"docs/design\.md#([\w-]+)", text)]
    assert len(cited) >= 20
    wrong = [f"{s.relative_to(REPO)}: #{a}" for s, a in cited if a not in anchors]
    assert not wrong, "\n".join(wrong)

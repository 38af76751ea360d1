"""Every relative link in every Markdown file of the repository resolves: the file (or folder)
exists inside the repository, and a `#anchor` names a heading of the file it points to, as
GitHub renders it. Links that leave the repository are refused: they are dead in a clone."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {".git", ".venv", "node_modules", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"`+[^`]*`+")
# [text](target "title") and ![alt](target); targets in <...> may hold spaces.
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]"
                         r"\(\s*(<[^>]*>|[^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^//")


def markdown_files() -> list[Path]:
    return sorted(path for path in ROOT.rglob("*.md")
                  if not SKIPPED_DIRS.intersection(path.relative_to(ROOT).parts))


def prose_lines(text: str, keep_code: bool = False) -> list[str]:
    """The lines outside fenced code blocks, without their inline code spans unless kept."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line if keep_code else INLINE_CODE.sub("", line))
    return lines


def links(path: Path) -> list[str]:
    found = []
    for line in prose_lines(path.read_text(encoding="utf-8")):
        found += [match.strip("<>") for match in INLINE_LINK.findall(line)]
        found += [match.strip("<>") for match in REFERENCE.findall(line)]
    return [link for link in found if not EXTERNAL.match(link)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link in a heading: its text
    kept = "".join(ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in "LNM")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in prose_lines(path.read_text(encoding="utf-8"), keep_code=True):
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading is None:
            continue
        base = slug(heading.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return out


def broken(path: Path, link: str) -> str | None:
    target, _, anchor = link.partition("#")
    resolved = (path.parent / target).resolve() if target else path
    if not resolved.is_relative_to(ROOT):
        return "leaves the repository"
    if not resolved.exists():
        return "no such file"
    if anchor and resolved.suffix == ".md" and anchor.lower() not in anchors(resolved):
        return f"no heading #{anchor}"
    return None


def test_the_repository_has_markdown_with_relative_links():
    assert len(markdown_files()) > 10
    assert sum(len(links(path)) for path in markdown_files()) > 20


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(path: Path):
    failures = [f"{link}: {why}" for link in links(path) if (why := broken(path, link))]

    assert failures == []


def test_the_checker_catches_what_it_should(tmp_path: Path):
    doc = ROOT / "docs" / "api" / "README.md"
    assert broken(doc, "http-api.md") is None
    assert broken(doc, "http-api.md#conventions") is None
    assert broken(doc, "http-api.md#no-such-heading") == "no heading #no-such-heading"
    assert broken(doc, "nowhere.md") == "no such file"
    assert broken(doc, "../../../shared/contract/http-api.md") == "leaves the repository"
    assert slug("Identity on the bus: `user_id`") == "identity-on-the-bus-user_id"
    sample = tmp_path / "x.md"
    sample.write_text("[a](b.md) `[c](d.md)`\n```\n[e](f.md)\n```\n[g]: h.md\n[web](https://x.y)\n")
    assert links(sample) == ["b.md", "h.md"]

"""The README and docs/: links that resolve, anchors that match a heading, a README that stays a front door,
and a Python snippet that runs.

Anchors follow GitHub's rules: a heading's text (markdown stripped) lowercased, every character that is not
a letter, a digit, `-`, `_` or a space dropped, spaces turned into `-`; the second heading with the same
slug gets `-1`, the third `-2`.
"""

import math
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
MAX_LINES, MAX_WORDS = 150, 1200

FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")


def prose_lines(text: str):
    """(line number, line) outside fenced code blocks."""
    fenced = False
    for n, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield n, line


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's markdown text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links and images: their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML tags
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"(?<!\w)_+|_+(?!\w)", "", text)  # _emphasis_, not snake_case
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor a markdown file defines: its headings' slugs (duplicates numbered) and <a name/id>."""
    seen: dict[str, int] = {}
    out = set()
    for _, line in prose_lines(path.read_text()):
        out.update(HTML_ANCHOR.findall(line))
        m = HEADING.match(line)
        if not m:
            continue
        base = slug(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def links(path: Path):
    """(line number, target) of every link in the file's prose (inline code spans excluded)."""
    for n, line in prose_lines(path.read_text()):
        line = re.sub(r"`[^`]*`", "", line)
        m = REFERENCE_LINK.match(line)
        if m:
            yield n, m.group(1)
            continue
        for m in INLINE_LINK.finditer(line):
            yield n, m.group(1)


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """'file:line: target (why)' for every relative link of `path` that does not resolve."""
    bad = []
    for n, target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http(s), mailto: not checked here
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        where = f"{path.relative_to(root)}:{n}: {target}"
        if not dest.exists():
            bad.append(f"{where} (no such file {dest.relative_to(root) if dest.is_relative_to(root) else dest})")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            bad.append(f"{where} (no heading with that anchor in {dest.name})")
    return bad


# --------------------------------------------------------------------------- the checker itself


def test_slugs_follow_githubs_rules():
    assert slug("7. Teacher signals kept once: top-k and samples") == "7-teacher-signals-kept-once-top-k-and-samples"
    assert (
        slug("`make reproduce` from a cold state, session 10 (issue 12, lead)")
        == "make-reproduce-from-a-cold-state-session-10-issue-12-lead"
    )
    assert slug("GKD (λ × β) grid: notebook 04") == "gkd-λ--β-grid-notebook-04"
    assert slug("The survey's miniatures (notebook 05)") == "the-surveys-miniatures-notebook-05"
    assert slug("a [linked](x.md) *word* and snake_case") == "a-linked-word-and-snake_case"


def test_a_broken_link_or_anchor_is_reported(tmp_path):
    (tmp_path / "b.md").write_text("# Title\n## Same\n## Same\n```\n# not a heading\n```\n")
    page = tmp_path / "a.md"
    page.write_text(
        "[ok](b.md#same-1) [ok](#here) [bad](b.md#same-2) [gone](c.md) [code](b.md#not-a-heading)\n"
        "`[skipped](nowhere.md)` [web](https://example.org/x#y)\n# Here\n"
    )
    assert [b.split(": ", 1)[1].split(" (")[0] for b in broken_links(page, tmp_path)] == [
        "b.md#same-2",
        "c.md",
        "b.md#not-a-heading",
    ]


# --------------------------------------------------------------------------- the project's pages


@pytest.mark.parametrize("page", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(page):
    assert broken_links(page) == []


def test_the_readme_is_a_front_door():
    text = README.read_text()
    assert len(text.splitlines()) <= MAX_LINES
    assert len(text.split()) <= MAX_WORDS
    for command in ("make reproduce", "make test", "make lab"):
        assert command in text
    assert "docs/" in text


def test_the_readme_snippet_runs_and_trains():
    blocks = re.findall(r"^```python\n(.*?)^```", README.read_text(), re.S | re.M)
    assert blocks, "the README has no ```python block"
    namespace: dict = {"__name__": "readme_snippet"}
    exec(compile(blocks[0], "README.md (first python block)", "exec"), namespace)
    history, config = namespace["history"], namespace["config"]
    losses = history.series("loss")
    assert len(history.rows) == config.steps == len(losses)
    assert all(math.isfinite(x) and x >= 0 for x in losses)
    assert history.meta["method"].startswith("gkd")
    assert losses[-1] < losses[0]  # seeded: the student moves toward its teacher

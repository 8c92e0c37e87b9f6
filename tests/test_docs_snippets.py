"""Every Python code block of README.md and docs/**/*.md runs, so a page that rots fails the suite.

Per page, the ```` ```python ```` blocks run in page order in one namespace, in a fresh temporary working
directory. Two markers, both invisible in the rendered page:

- the line ``<!-- skip -->`` just before a fence: that block is not run (a sketch, or it needs a GPU);
- a block inside an HTML comment that opens with ``<!-- setup``: run, not shown. It defines what a shown
  block takes for granted (``model``, ``train_loader``...); keep it tiny so the page runs in seconds.

New pages are picked up by themselves.
"""

from __future__ import annotations

import doctest
import re
import sys
import traceback
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^(\s*)```+\s*(\S*)")


@attrs.frozen
class Block:
    """One Python block of a page: its first code line (1-based) and its code."""

    line: int
    code: str


def blocks(text: str) -> list[Block]:
    """The runnable Python blocks of a Markdown page, in order (skipped ones left out, hidden setup ones kept).

    >>> page = "<!-- setup\\n```python\\nx = 1\\n```\\n-->\\n<!-- skip -->\\n```python\\nboom\\n```\\n```py\\ny = x\\n```\\n"
    >>> [(b.line, b.code) for b in blocks(page)]
    [(3, 'x = 1\\n'), (11, 'y = x\\n')]
    """
    out: list[Block] = []
    lines = text.splitlines()
    i, previous = 0, ""
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            if lines[i].strip():
                previous = lines[i].strip()
            i += 1
            continue
        indent, lang, start = match.group(1), match.group(2).lower(), i + 1
        i = start
        while i < len(lines) and not lines[i].strip().startswith("```"):
            i += 1
        if lang in ("python", "py") and previous != "<!-- skip -->":
            code = "\n".join(line[len(indent):] if line.startswith(indent) else line for line in lines[start:i])
            out.append(Block(start + 1, code + "\n"))
        previous, i = "```", i + 1
    return out


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def run_page(page: Path, name: str) -> None:
    """Run ``page``'s blocks in order in one namespace; fail naming the page, the block's line and the error."""
    namespace: dict[str, object] = {"__name__": "__docs__"}  # a script's `if __name__ == "__main__"` stays off
    for block in blocks(page.read_text(encoding="utf-8")):
        if block.code.lstrip().startswith(">>>"):
            failures = run_doctest(block, name, namespace)
            if failures:
                pytest.fail(f"{name}, the doctest block at line {block.line} failed:\n{failures}", pytrace=False)
            continue
        code = compile("\n" * (block.line - 1) + block.code, str(page), "exec")
        try:
            exec(code, namespace)
        except Exception:
            pytest.fail(f"{name}, the block at line {block.line} failed:\n{block.code}\n{traceback.format_exc()}",
                        pytrace=False)


def run_doctest(block: Block, name: str, namespace: dict[str, object]) -> str:
    """Run a ``>>>`` block as a doctest (outputs compared) in ``namespace``; the report of failures, or ``""``."""
    test = doctest.DocTestParser().get_doctest(block.code, namespace, name, name, block.line - 1)
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test, out=report.append, clear_globs=False)
    namespace.update(test.globs)
    return "".join(report)


@pytest.fixture
def docs_hypothesis_profile():
    """Property tests on a page run derandomized, and a slow draw on a busy machine is not a failure."""
    settings.register_profile("docs", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    previous = settings.get_current_profile_name()
    settings.load_profile("docs")
    yield
    settings.load_profile(previous)


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_page_runs(page, tmp_path, monkeypatch, docs_hypothesis_profile):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.syspath_prepend(str(ROOT))
    run_page(page, page.relative_to(ROOT).as_posix())
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


class TestBlocks:
    def test_skip_marker_applies_to_the_next_fence_only(self):
        page = "<!-- skip -->\n\n```python\na\n```\n```python\nb\n```\n"
        assert [b.code for b in blocks(page)] == ["b\n"]

    def test_other_languages_are_not_run(self):
        assert blocks("```bash\nls\n```\n```text\nout\n```\n") == []

    def test_indented_block_in_a_list(self):
        assert blocks("- step\n\n    ```python\n    x = 1\n    ```\n") == [Block(4, "x = 1\n")]

    def test_doctest_block_compares_outputs(self, tmp_path):
        page = tmp_path / "page.md"
        page.write_text("```python\n>>> 1 + 1\n3\n```\n")
        with pytest.raises(pytest.fail.Exception, match="the doctest block at line 2 failed"):
            run_page(page, "page.md")

    def test_failure_names_the_page_and_line(self, tmp_path):
        page = tmp_path / "page.md"
        page.write_text("# t\n\n```python\nx = 1\n```\n\n```python\n1 / 0\n```\n")
        with pytest.raises(pytest.fail.Exception) as info:
            run_page(page, "page.md")
        assert "the block at line 8 failed" in str(info.value)
        assert "ZeroDivisionError" in str(info.value)

    def test_blocks_share_one_namespace_in_page_order(self, tmp_path):
        page = tmp_path / "page.md"
        page.write_text("```python\nx = 1\n```\ntext\n```python\nassert x == 1\n```\n")
        run_page(page, "page.md")


"""Every script in examples/ runs to completion and prints what it promises; the docs' worked example is that file."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

#: For each script: the optional packages it needs, and a line its output must contain.
EXPECTED = {
    "quickstart.py": (("sklearn",), "test accuracy:"),
    "rich_progress.py": (("sklearn", "rich"), "test accuracy:"),
    "compose_hooks.py": ((), "a trainer would stop after epoch 6"),
    "property_test_my_stop_rule.py": (("hypothesis",), " passed"),
    "replay_what_if.py": (("sklearn",), "patience  stop epoch  best val_loss  kept checkpoints"),
    "lightning_port.py": ((), "reloaded: lr=0.1"),
    "hand_loop.py": ((), "stopped at epoch"),
    "ddp.py": ((), "world_size=1"),
}


def scripts() -> list[str]:
    return sorted(p.name for p in EXAMPLES.glob("*.py"))


def test_every_example_is_listed():
    assert scripts() == sorted(EXPECTED)


@pytest.mark.parametrize("name", scripts())
def test_example_runs(name, tmp_path):
    needs, expected = EXPECTED.get(name, ((), ""))
    missing = [module for module in needs if importlib.util.find_spec(module) is None]
    if missing:
        pytest.skip(f"{name} needs {', '.join(missing)}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, str(EXAMPLES / name)], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, f"{name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert expected in result.stdout, f"{name} did not print {expected!r}:\n{result.stdout[-3000:]}"


def test_the_testing_page_shows_the_example_file_verbatim():
    page = (ROOT / "docs" / "testing.md").read_text()
    assert (EXAMPLES / "property_test_my_stop_rule.py").read_text() in page


# -- the docs: the index maps every page (every page's code runs: tests/test_docs_snippets.py) ---------------------
DOCS = ROOT / "docs"


def test_the_index_lists_every_example():
    index = (DOCS / "index.md").read_text()
    assert [name for name in scripts() if f"examples/{name}" not in index] == []


def test_the_index_links_every_page():
    index = (DOCS / "index.md").read_text()
    linked = set(re.findall(r"\]\(([^)#]+\.md)\)", index))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")} - {"index.md"}
    assert sorted(pages - linked) == []
    assert sorted(p for p in linked if not (DOCS / p).is_file()) == []

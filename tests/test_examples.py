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


# -- the docs: every python block runs, and the index maps every page ------------------------------------------------
DOCS = ROOT / "docs"
#: Pages whose ```python blocks form one runnable program each (run in order, in one namespace).
RUNNABLE_PAGES = ["tour.md", "concepts.md", "events.md", "trainer.md", "testing.md", "howto/write_a_hook.md",
                  "howto/port_a_lightning_callback.md", "porting.md"]

RUN_BLOCKS = """
import re, sys
text = open(sys.argv[1]).read()
namespace = {"__name__": "__docs__"}
for i, block in enumerate(re.findall(r"^```python\\n(.*?)^```", text, flags=re.S | re.M)):
    exec(compile(block, f"{sys.argv[1]} block {i}", "exec"), namespace)
print("ran", i + 1, "blocks")
"""


@pytest.mark.parametrize("page", RUNNABLE_PAGES)
def test_doc_code_blocks_run(page, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-c", RUN_BLOCKS, str(DOCS / page)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{page}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert "ran " in result.stdout


def test_the_index_links_every_page():
    index = (DOCS / "index.md").read_text()
    linked = set(re.findall(r"\]\(([^)#]+\.md)\)", index))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")} - {"index.md"}
    assert sorted(pages - linked) == []
    assert sorted(p for p in linked if not (DOCS / p).is_file()) == []

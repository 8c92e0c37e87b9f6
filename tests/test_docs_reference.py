"""The API reference pages (docs/reference/, made by scripts/make_reference.py) cover every public name."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("make_reference", ROOT / "scripts" / "make_reference.py")
make_reference = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_reference)


def test_reference_pages_are_up_to_date():
    stale = [path.name for path, text in make_reference.pages().items()
             if not path.is_file() or path.read_text() != text]
    assert stale == [], f"run: python scripts/make_reference.py (stale: {stale})"


def test_every_public_name_has_an_entry():
    documented = {m.rpartition(".")[2] for path in (ROOT / "docs" / "reference").glob("*.md")
                  for m in re.findall(r"^::: (\S+)$", path.read_text(), flags=re.M)}
    missing = {package: sorted(set(make_reference.public_names(package)) - documented)
               for _, package, _ in make_reference.PAGES}
    assert {k: v for k, v in missing.items() if v} == {}


def test_mkdocs_nav_lists_every_page():
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = sorted(p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md"))
    assert [p for p in pages if f" {p}" not in nav] == [], "add the page to nav: in mkdocs.yml"

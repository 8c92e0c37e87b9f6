"""Write docs/reference/*.md: one API page per public package, an entry per name in its ``__all__``.

mkdocstrings renders each entry from its docstring. Entries name where each object is defined (a function
called like its module, ``fhooks.core.fold.fold``, would otherwise resolve to the module). A test
(tests/test_docs_reference.py) fails when a page is out of date, so a new public name cannot go undocumented:

    python scripts/make_reference.py
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "reference"

#: (page, package, introduction): each package's ``__all__`` is documented on its page.
PAGES = [
    ("fhooks", "fhooks", "The top-level package re-exports `fhooks.core`, `Callback` (see `fhooks.callbacks`), "
                         "`replay` and `sweep` (see `fhooks.replay`); the names documented only here follow."),
    ("core", "fhooks.core", "Pure and torch-free: events, effects, hooks, combinators, the fold."),
    ("hooks", "fhooks.hooks", "The library's pure hooks, one constructor per Lightning callback, with their state "
                              "and effect types."),
    ("callbacks", "fhooks.callbacks", "Lightning-named classes over the pure hooks, and the `Callback` base class."),
    ("loggers", "fhooks.loggers", "Where metrics go."),
    ("testing", "fhooks.testing", "Hypothesis strategies and checkers for your own hooks (needs `hypothesis`)."),
    ("replay", "fhooks.replay", "What would a hook have done on a logged run?"),
    ("interpret", "fhooks.interpret", "The effect interpreter and the `Host` protocol every host implements."),
    ("lightning", "fhooks.lightning", "fhooks inside Lightning's own Trainer (Lightning is imported only when used)."),
    ("ignite", "fhooks.ignite", "fhooks inside an Ignite `Engine` (Ignite is imported only when used)."),
    ("display", "fhooks.display", "Progress bar and summary renderers."),
    ("errors", "fhooks.errors", "Every error fhooks raises: one root, `FhooksError`; each also subclasses the builtin "
                                "it refines."),
]
EXTRA = {"replay": ["fhooks.replay_sweep.sweep", "fhooks.replay_sweep.SweepReport", "fhooks.replay_sweep.SweepRow",
                    "fhooks.replay_plot.plot_report"]}


def public_names(package: str) -> list[str]:
    module = importlib.import_module(package)
    names = getattr(module, "__all__", None)
    if names is None:  # fhooks.errors: the classes it defines
        names = [n for n, v in vars(module).items() if inspect.isclass(v) and v.__module__ == package]
    if package == "fhooks":  # what no other page documents
        elsewhere = {n for _, other, _ in PAGES if other != "fhooks" for n in public_names(other)}
        elsewhere |= {target.rpartition(".")[2] for targets in EXTRA.values() for target in targets}
        names = [n for n in names if n not in elsewhere and n != "__version__"]
    return list(names)


def identifier(package: str, name: str) -> tuple[str, bool]:
    """Where ``name`` is defined, and whether it is a plain value (shown without a docstring of its own)."""
    value = getattr(importlib.import_module(package), name)
    if inspect.isclass(value) or inspect.isfunction(value):
        return f"{value.__module__}.{value.__qualname__}", False
    return f"{package}.{name}", True


def page(name: str, package: str, intro: str) -> str:
    lines = [f"# `{package}`", "", intro, "", "<!-- Made by scripts/make_reference.py; do not edit. -->", ""]
    entries = [identifier(package, n) for n in public_names(package)] + [(e, False) for e in EXTRA.get(name, [])]
    for target, plain in entries:
        lines.append(f"::: {target}")
        if plain:
            lines += ["    options:", "      show_if_no_docstring: true"]
        lines.append("")
    return "\n".join(lines)


def pages() -> dict[Path, str]:
    return {REFERENCE / f"{name}.md": page(name, package, intro) for name, package, intro in PAGES}


def main() -> None:
    REFERENCE.mkdir(exist_ok=True)
    for path, text in pages().items():
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()

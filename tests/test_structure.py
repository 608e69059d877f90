"""The layout of the package: the paper in one place, no private imports across sub-packages,
no import running back up the pipeline from the reports to the study."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import meanclust_jax
from meanclust_jax import paper

PACKAGE = Path(meanclust_jax.__file__).parent


def _imports(path: Path) -> list[tuple[int, str]]:
    """Absolute dotted names of every module imported by ``path`` (relative imports resolved)."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = parts[:-1]  # the package a relative import of level 1 refers to
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            name = ".".join(base + ([node.module] if node.module else []))
            out.append((node.lineno, name))
            for alias in node.names:  # ``from . import _structure``
                out.append((node.lineno, f"{name}.{alias.name}"))
        elif isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
    return out


def _subpackage(dotted: str) -> str | None:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "meanclust_jax" else None


def test_no_private_imports_across_subpackages():
    """A module may import the private modules of its own sub-package and the package's shared
    private helpers (``meanclust_jax._io`` etc.), never ``meanclust_jax.<other>._<private>``."""
    offences = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = _subpackage(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
        for line, name in _imports(path):
            parts = name.split(".")
            if _subpackage(name) in (None, own) or len(parts) < 3:
                continue
            if any(p.startswith("_") and not p.startswith("__") for p in parts[2:]):
                offences.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}")
    assert not offences, "\n".join(offences)


def test_reports_do_not_import_the_study():
    offences = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}"
        for path in sorted((PACKAGE / "reports").rglob("*.py"))
        for line, name in _imports(path)
        if _subpackage(name) in ("study", "cli")
    ]
    assert not offences, "\n".join(offences)


def test_paper_module_imports_nothing_of_the_package():
    assert not [name for _, name in _imports(PACKAGE / "paper.py") if name.startswith("meanclust_jax")]


def test_the_paper_is_in_one_place():
    from meanclust_jax import closures, schedules
    from meanclust_jax.reports import paper_values

    assert schedules.PAPER_TEMPERATURES is paper.PAPER_TEMPERATURES
    assert closures.PAPER_COMPOSITIONS is paper.PAPER_COMPOSITIONS
    assert paper_values.TABLE_II is paper.TABLE_II
    assert paper_values.SA_IMPROVEMENT_OVER_PA_PERCENT == paper.SA_IMPROVEMENT_OVER_PA_PERCENT == 36.13
    assert len(paper.PAPER_COMPOSITIONS) == 10 and set(paper.CALIBRATION_COMPOSITIONS) <= set(paper.PAPER_COMPOSITIONS)
    assert [schedules.paper(5).steps[i][0] for i in range(11)] == list(paper.PAPER_TEMPERATURES)


@pytest.mark.parametrize(("x", "label"), [(1 / 3, "1/3"), (0.5, "1/2"), (0.25, "1/4"), (0.36, "0.36"), (0.7, "0.7")])
def test_composition_label(x, label):
    assert paper.composition_label(x) == label


def test_study_figures_are_listed_in_reports():
    from meanclust_jax.reports.study_figures import FIGURES

    assert FIGURES["fig2"][0] == "fig02_anneal_history.png"
    code = "import sys, meanclust_jax.reports.study_report; print('meanclust_jax.study' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

"""The documentation the code cites exists: every ``docs/model.md §N`` reference in the package,
tests, notebooks, benchmarks and README names a section of ``docs/model.md``, nothing cites the
old out-of-tree ``SPEC``, and the licence the metadata declares is in the repository."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "docs" / "model.md"
CITING = ("meanclust_jax", "tests", "notebooks", "benchmarks")
SUFFIXES = (".py", ".ipynb", ".md", ".sh")


def _citing_files() -> list[Path]:
    files = [ROOT / "README.md"]
    for top in CITING:
        files += [p for p in sorted((ROOT / top).rglob("*")) if p.suffix in SUFFIXES and p.is_file()]
    return [f for f in files if f.exists() and f != Path(__file__).resolve()]


def _sections() -> set[str]:
    return set(re.findall(r"^#{2,3} §(\d+(?:\.\d+)?)", MODEL.read_text(encoding="utf-8"), re.M))


def test_model_doc_has_numbered_sections() -> None:
    assert {str(n) for n in range(1, 11)} <= _sections()


def test_every_citation_names_an_existing_section() -> None:
    sections = _sections()
    # "docs/model.md §4", "docs/model.md §1–4", "docs/model.md §1, §4", "docs/model.md §7.3"
    cite = re.compile(r"docs/model\.md §(\d+(?:\.\d+)?)(?:\s*[-–]\s*(\d+))?((?:,\s*§\d+(?:\.\d+)?)*)")
    bad, n = [], 0
    for path in _citing_files():
        for m in cite.finditer(path.read_text(encoding="utf-8")):
            cited = [m.group(1)] + ([m.group(2)] if m.group(2) else [])
            cited += re.findall(r"§(\d+(?:\.\d+)?)", m.group(3) or "")
            n += 1
            bad += [f"{path.relative_to(ROOT)}: §{c}" for c in cited if c not in sections]
    assert n > 30, "the code should cite docs/model.md"
    assert not bad, f"citations of missing sections: {bad}"


@pytest.mark.parametrize("old", ["SPEC §", "SPEC.md"])
def test_no_citation_of_the_out_of_tree_spec(old: str) -> None:
    hits = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in _citing_files()
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if old in line
    ]
    assert not hits, f"cite docs/model.md or the paper instead of {old!r}: {hits}"


def test_licence_file_matches_metadata() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert meta["license"] == "MIT"
    for name in meta["license-files"]:
        text = (ROOT / name).read_text(encoding="utf-8")
        assert text.startswith("MIT License") and "meanclust_jax contributors" in text


def test_ci_runs_the_readme_set_up_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Set-up: two commands", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    install, tests = block.strip().splitlines()
    assert install.startswith("python3 -m venv .venv && . .venv/bin/activate && ")  # works on a fresh machine
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert install.split(" && meanclust reproduce")[0] in ci
    assert tests in ci

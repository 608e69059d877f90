"""The linter: ``ruff check`` over the whole repository passes with the rules of ``pyproject.toml``
(``[tool.ruff]``): pycodestyle, pyflakes, import order, bugbear, pyupgrade, unused arguments,
naming (with the paper's symbols), type annotations in the package, and no unused ``noqa``."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_check_passes():
    if importlib.util.find_spec("ruff") is None:
        pytest.skip('ruff is not installed: install the dev extra (pip install -e ".[dev]")')
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", str(ROOT)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"ruff check failed:\n{proc.stdout}{proc.stderr}"

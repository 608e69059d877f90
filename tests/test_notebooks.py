"""The example notebooks: stored without outputs, and they run (small) without errors.

Each notebook is executed with nbclient in a temporary copy, on a kernel that runs this test's
own Python (a temporary kernelspec, so that a user-level ``python3`` kernel pointing at another
environment cannot be picked up). The sizes are reduced through the notebooks' environment
variables; together the two notebooks take about 1.5 minutes on a 2-core CPU, almost all of it
JAX compilation.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["01_rate_loss_gradients.ipynb", "02_engine_tour.ipynb"]
KERNEL = "meanclust-nbtest"

#: Small sizes for the test run (the notebooks' defaults take a few minutes).
SMALL = {
    "MEANCLUST_NB_SIZE": "12",
    "MEANCLUST_NB_SWEEPS": "10",
    "MEANCLUST_NB_REPLICAS": "2",
    "MEANCLUST_NB_STARTS": "2",
    "MEANCLUST_NB_OPT_STEPS": "20",
    "MEANCLUST_NB_SLICE_POINTS": "17",
    "MEANCLUST_NB_GRID": "6",
    "MEANCLUST_NB_SNAPSHOTS": "6",
    "MEANCLUST_NB_SEED": "0",
}


def test_all_notebooks_listed():
    # every stored notebook is exercised here (executed copies, *_executed.ipynb, are not stored)
    stored = [p.name for p in NOTEBOOKS.glob("*.ipynb") if not p.stem.endswith("_executed")]
    assert sorted(stored) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_stored_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "notebook has no code cells"
    for n, cell in enumerate(code):
        assert cell.get("outputs", []) == [], f"{name}: code cell {n} has stored outputs"
        assert cell.get("execution_count") is None, f"{name}: code cell {n} has an execution count"
    # the first code cell reads the sizes from the environment
    assert "MEANCLUST_NB_SIZE" in code[0].source


def _kernelspec(root: Path) -> None:
    """A kernelspec named `KERNEL` that starts ipykernel with this interpreter."""
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "meanclust_jax test kernel",
        "language": "python",
    }))


@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes(name, tmp_path, monkeypatch):
    for key, value in SMALL.items():
        monkeypatch.setenv(key, value)
    jupyter = tmp_path / "jupyter"
    _kernelspec(jupyter)
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    work = tmp_path / "work"
    work.mkdir()
    copy = work / name
    shutil.copyfile(NOTEBOOKS / name, copy)
    nb = nbformat.read(copy, as_version=4)
    client = nbclient.NotebookClient(
        nb, kernel_name=KERNEL, timeout=600, startup_timeout=120,
        resources={"metadata": {"path": str(work)}},
    )
    try:
        client.execute()  # raises CellExecutionError (with the traceback) on the first failing cell
    finally:
        nbformat.write(nb, copy)  # the executed copy stays in tmp_path for inspection
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    executed = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in executed)

"""tools/gpu_dry_run.py: the mechanics on a one-cell notebook; the real dry run is slow."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("gpu_dry_run", ROOT / "tools" / "gpu_dry_run.py")
assert _spec is not None and _spec.loader is not None
gpu_dry_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gpu_dry_run)


def test_runs_a_notebook_at_the_gpu_profile_capped(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import os, course_lib\n"
        "P = course_lib.setup(verbose=False)\n"
        "assert P.name == 'gpu' and P.max_steps == 3 and P.image_size == 256, P\n"
        "assert os.environ['COURSE_CACHE'].startswith(os.path.dirname(os.getcwd()))\n"
        "open('written_here.txt', 'w').write('x')")]
    good = tmp_path / "good.ipynb"
    nbformat.write(nb, good)
    bad = tmp_path / "bad.ipynb"
    nb.cells = [nbformat.v4.new_code_cell("raise RuntimeError('broken cell')")]
    nbformat.write(nb, bad)
    records = [gpu_dry_run.run_notebook(p, max_steps=3, timeout=120) for p in (good, bad)]
    assert records[0]["error"] is None, records[0]
    assert records[0]["peak_rss_mib"] > 50                   # the kernel's, not the wrapper's
    assert "broken cell" in str(records[1]["error"])
    assert not (tmp_path / "written_here.txt").exists()      # ran in a temporary folder
    table = gpu_dry_run.markdown(records, 3)
    assert "| good.ipynb |" in table and "COURSE_MAX_STEPS=3" in table


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")),
                         ids=lambda p: p.name)
def test_every_solution_notebook_runs_at_the_gpu_profile(path: Path) -> None:
    """``make test-gpu-dry`` one notebook at a time (minutes each on 2 cores)."""
    record = gpu_dry_run.run_notebook(path, max_steps=2, timeout=1800)
    assert record["error"] is None, record

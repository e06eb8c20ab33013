"""Notebook hygiene: single source, no outputs, student versions in sync, set-up cell.

The notebooks themselves are executed by nbval (see pyproject's pytest settings); these tests
check what a teacher and a learner rely on without running them.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import make_student  # noqa: E402

SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
STUDENT = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _src(cell: dict) -> str:
    return "".join(cell["source"])


def test_there_are_notebooks_and_each_has_a_student_version() -> None:
    assert SOLUTIONS, "solutions/ has no notebooks"
    assert [p.name for p in SOLUTIONS] == [p.name for p in STUDENT]


def _learner_copy(path: Path, wanted: str | None = None) -> str | None:
    """For a student notebook holding a learner's work: the committed text to check instead.

    Returns None when ``path`` is not such a notebook. Skips the calling test, with a note,
    when the learner's notebook has no committed version to check (no git history).
    """
    if path.parent.name != "notebooks":
        return None
    if wanted is None:
        wanted = make_student.build(ROOT)[path]
    if not make_student.learner_edited(ROOT, path, wanted):
        return None
    committed = make_student.committed_text(ROOT, path)
    if committed is None:
        pytest.skip(f"notebooks/{path.name} holds your work and there is no git history to "
                    "check the original against; this check is for the course's authors")
    return committed


def test_student_notebooks_are_generated_from_solutions() -> None:
    wanted = make_student.build(ROOT)
    stale = []
    for path in make_student.stale(ROOT):
        committed = _learner_copy(path, wanted.get(path, "")) if path in wanted else None
        if committed is None or committed != wanted[path]:
            stale.append(path)   # a learner's notebook: its committed version must be in sync
    assert not stale, f"run `make notebooks`; out of date: {[str(p) for p in stale]}"


@pytest.mark.parametrize("path", SOLUTIONS + STUDENT, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_without_outputs(path: Path) -> None:
    committed = _learner_copy(path)                  # a learner's saved outputs are fine
    cells = json.loads(committed)["cells"] if committed is not None else _cells(path)
    for cell in cells:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, path


@pytest.mark.parametrize("path", STUDENT, ids=lambda p: p.name)
def test_student_notebooks_hide_solutions(path: Path) -> None:
    solution_cells = [c for c in _cells(ROOT / "solutions" / path.name) if "### BEGIN SOLUTION" in _src(c)]
    committed = _learner_copy(path)                  # a learner's answers replace the stubs
    cells = json.loads(committed)["cells"] if committed is not None else _cells(path)
    text = "\n".join(_src(c) for c in cells)
    assert "### BEGIN SOLUTION" not in text and "### END SOLUTION" not in text
    assert text.count("raise NotImplementedError()") >= len(solution_cells)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_each_notebook_states_objectives_time_and_expectations(path: Path) -> None:
    intro = _src(_cells(path)[0])
    for heading in ("Objectives", "Expected run time", "What you should see"):
        assert heading in intro, f"{path.name}: first cell lacks '{heading}'"
    for profile in ("ci", "cpu", "gpu"):
        assert f"`{profile}`" in intro, f"{path.name}: no run time stated for the {profile} profile"


def test_strip_solutions_keeps_indentation_and_refuses_broken_markers() -> None:
    text = "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n\ny = f"
    assert make_student.strip_solutions(text) == (
        "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\ny = f")
    with pytest.raises(ValueError, match="never closed"):
        make_student.strip_solutions("### BEGIN SOLUTION\nx = 1", "nb.ipynb")
    with pytest.raises(ValueError, match="without"):
        make_student.strip_solutions("x = 1\n### END SOLUTION", "nb.ipynb")


def test_bootstrap_cell_names_the_one_command(monkeypatch: pytest.MonkeyPatch) -> None:
    source = make_student.bootstrap_source(ROOT)
    assert make_student.repo_url(ROOT) in source
    for path in SOLUTIONS + STUDENT:
        boot = [c for c in _cells(path) if "bootstrap" in c["metadata"].get("tags", [])]
        assert len(boot) == 1 and _src(boot[0]) == source, path.name
    # Simulate a kernel without course_lib: the cell must say which command to run.
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "course_lib" else real_find_spec(name, *a))
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    with pytest.raises(ModuleNotFoundError, match="make lab"):
        exec(compile(source, "bootstrap", "exec"), {})


@pytest.mark.parametrize("path", SOLUTIONS + STUDENT, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebooks_name_the_course_kernel(path: Path) -> None:
    """The kernel `make lab` registers (Makefile KERNEL), so JupyterLab opens the right one."""
    kernel = next(line.split(":=")[1].strip() for line in (ROOT / "Makefile").read_text()
                  .splitlines() if line.startswith("KERNEL"))
    spec = json.loads(path.read_text())["metadata"]["kernelspec"]
    assert spec["name"] == kernel and spec["display_name"] == "Python (i2i course)", path.name

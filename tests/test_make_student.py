"""tools/make_student.py never overwrites a learner's work, and the suite passes on it."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import make_student  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

_SOLUTION = {
    "cells": [
        {"cell_type": "code", "execution_count": None, "metadata": {"tags": ["bootstrap"]},
         "outputs": [], "source": ["pass"]},
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
         "source": ["def f(x):\n", "    ### BEGIN SOLUTION\n", "    return 2 * x\n",
                    "    ### END SOLUTION\n"]},
    ],
    "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
}


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "HOME": str(root),
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})


@pytest.fixture
def course(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[project.urls]\nRepository = "https://example.org/x"\n')
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "00_x.ipynb").write_text(json.dumps(_SOLUTION))
    assert make_student.main(["--root", str(tmp_path)]) == 0
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "course")
    return tmp_path


def _answer(path: Path, run: bool) -> None:
    nb = json.loads(path.read_text())
    cell = nb["cells"][1]
    cell["source"] = ["def f(x):\n", "    return x + x\n"]
    if run:
        cell["execution_count"] = 1
        cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["[PASS]\n"]}]
    path.write_text(json.dumps(nb, indent=1))


@pytest.mark.parametrize("run", [False, True])
def test_make_notebooks_keeps_a_learners_work_unless_forced(course: Path, run: bool, capsys):
    student = course / "notebooks" / "00_x.ipynb"
    _answer(student, run)
    mine = student.read_text()
    wanted = make_student.build(course)[student]
    assert make_student.learner_edited(course, student, wanted)
    assert make_student.main(["--root", str(course)]) == 0
    assert student.read_text() == mine
    assert "FORCE=1" in capsys.readouterr().err
    assert make_student.main(["--root", str(course), "--force"]) == 0
    assert student.read_text() == wanted


def test_an_authors_change_is_still_written(course: Path):
    solution = course / "solutions" / "00_x.ipynb"
    nb = json.loads(solution.read_text())
    nb["cells"].append({"cell_type": "markdown", "metadata": {}, "source": ["new"]})
    solution.write_text(json.dumps(nb))
    student = course / "notebooks" / "00_x.ipynb"
    wanted = make_student.build(course)[student]
    assert not make_student.learner_edited(course, student, wanted)
    make_student.main(["--root", str(course)])
    assert student.read_text() == wanted


def test_without_git_outputs_and_answers_still_count(course: Path):
    shutil.rmtree(course / ".git")
    student = course / "notebooks" / "00_x.ipynb"
    _answer(student, run=False)
    assert make_student.committed_text(course, student) is None
    assert make_student.learner_edited(course, student, make_student.build(course)[student])

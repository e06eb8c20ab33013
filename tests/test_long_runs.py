"""tools/long_runs.py at the ``ci`` profile: the longer runs the notebooks quote stay runnable."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import long_runs  # noqa: E402


def _table(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("|")]


def test_pix2pixhd_long_runs_print_one_row_per_ablation(tmp_path, capsys) -> None:
    assert long_runs.main(["pix2pixhd", "--profile", "ci", "--steps", "2", "--runs",
                           str(tmp_path), "--no-progress"]) == 0
    rows = _table(capsys.readouterr().out)
    assert [r.split("|")[1].strip() for r in rows[2:]] == list(long_runs.HD_VARIANTS)
    assert all(len(r.split("|")) == 8 for r in rows)
    folder = tmp_path / "05_pix2pixhd" / "ci" / "2_steps"
    assert len([p for p in folder.iterdir() if (p / "last.pt").is_file()]) == 4


def test_bicyclegan_long_run_reports_each_evaluation_and_resumes(tmp_path, capsys) -> None:
    args = ["bicyclegan", "--profile", "ci", "--steps", "4", "--eval-every", "2", "--runs",
            str(tmp_path), "--no-progress"]
    assert long_runs.main(args) == 0
    rows = _table(capsys.readouterr().out)
    assert [r.split("|")[1].strip() for r in rows[2:]] == ["2", "4 (8 outlines)"]
    # A second call finds the finished run and only evaluates it: the same table.
    assert long_runs.main(args) == 0
    assert _table(capsys.readouterr().out) == rows


def test_bad_arguments_are_refused(capsys) -> None:
    with pytest.raises(SystemExit):
        long_runs.main(["bicyclegan", "--steps", "0"])
    assert "--steps must be at least 1" in capsys.readouterr().err

"""The command line: `python -m course_lib download ...`, offline."""
from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from course_lib.cli import build_parser, main
from course_lib.data.download import DATASETS, is_complete


def make_archive(path: Path) -> Path:
    """A tiny facades-like archive: facades/<split>/0.jpg, one 64x32 AB image per split."""
    rng = np.random.default_rng(1)
    with tarfile.open(path, "w:gz") as tar:
        for split in ("train", "val", "test"):
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, (32, 64, 3), dtype=np.uint8)).save(buf, "JPEG")
            member = tarfile.TarInfo(f"facades/{split}/0.jpg")
            member.size = len(buf.getvalue())
            tar.addfile(member, io.BytesIO(buf.getvalue()))
    return path


def test_help_lists_the_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "download" in out and "python -m course_lib download --list" in out
    assert main([]) == 2  # no command: help, usage status
    assert "COMMAND" in capsys.readouterr().out
    assert main(["download", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--archive PATH" in out and "--root DIR" in out and "--force" in out


def test_only_real_commands_are_registered():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert sorted(sub.choices) == ["bench", "download", "evaluate", "pretrained", "sample",
                                   "train"]
    assert main(["train"]) == 2  # a model must be named


def test_list(capsys):
    assert main(["download", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in DATASETS)
    assert "BtoA" in out and "AtoB" in out and "efrosgans.eecs.berkeley.edu" in out


def test_bad_names(capsys):
    assert main(["download"]) == 2
    assert "--list" in capsys.readouterr().err
    assert main(["download", "horse2zebra"]) == 2
    assert "choose from cityscapes, edges2handbags" in capsys.readouterr().err


def test_download_from_local_archive(tmp_path, capsys):
    archive = make_archive(tmp_path / "facades.tar.gz")
    root = tmp_path / "data"
    argv = ["download", "facades", "--root", str(root), "--archive", str(archive), "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert is_complete("facades", root) and "splits: test, train, val" in out
    assert "direction='BtoA'" in out
    assert main(argv) == 0
    assert "already complete" in capsys.readouterr().out
    assert main(argv + ["--force"]) == 0 and is_complete("facades", root)


def test_network_failure_exit_status(tmp_path, capsys):
    status = main(["download", "facades", "--root", str(tmp_path), "--quiet",
                   "--url", "http://127.0.0.1:9/facades.tar.gz"])
    assert status == 1
    err = capsys.readouterr().err
    assert err.startswith("error: could not download facades") and "--archive PATH" in err


def test_python_dash_m_entry_point():
    done = subprocess.run([sys.executable, "-m", "course_lib", "download", "--list"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "edges2handbags" in done.stdout

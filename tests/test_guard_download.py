"""``download`` never deletes a file the user handed it, and "complete" means the files are there
(issue 17, cases 3 and 9)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from course_lib.cli import main
from course_lib.data import download as dl

from test_download import make_archive


def test_force_with_the_cache_path_as_archive_keeps_it(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "data"
    root.mkdir()
    archive = make_archive(root / "facades.tar.gz")     # the user copied it to ROOT/NAME.tar.gz
    before = archive.read_bytes()
    argv = ["download", "facades", "--root", str(root), "--archive", str(archive), "--quiet"]
    assert main(argv) == 0 and archive.read_bytes() == before
    assert main([*argv, "--force"]) == 0
    assert archive.is_file() and archive.read_bytes() == before
    assert dl.is_complete("facades", root)
    part = root / "facades.tar.gz.part"
    part.write_bytes(b"a partial download of ours")
    dl.download("facades", root=root, archive=archive, force=True, progress=False)
    assert archive.read_bytes() == before and part.is_file()   # --archive touches nothing else
    capsys.readouterr()


def test_a_marker_alone_is_not_complete(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "data"
    archive = make_archive(tmp_path / "facades.tar.gz")
    dl.download("facades", root=root, archive=archive, progress=False)
    marker = json.loads((root / "facades" / dl.MARKER).read_text())
    assert marker["files"]["train"]["count"] == 2
    size = (root / "facades" / "train" / "1.jpg").stat().st_size
    (root / "facades" / "train" / "1.jpg").unlink()
    assert not dl.is_complete("facades", root)
    left = marker["files"]["train"]["bytes"] - size
    problem = (f"{root / 'facades' / 'train'} holds 1 files ({left} bytes), not the 2 "
               f"({marker['files']['train']['bytes']} bytes) extracted")
    assert dl.incompleteness("facades", root) == problem
    argv = ["download", "facades", "--root", str(root), "--archive", str(archive), "--quiet"]
    assert main(argv) == 1
    assert capsys.readouterr().err == (
        f"error: {root / 'facades'} is incomplete: {problem} (files were deleted or changed since "
        "it was extracted). Run `python -m course_lib download facades --force` to replace it.\n")
    assert main([*argv, "--force"]) == 0 and dl.is_complete("facades", root)


def test_a_whole_split_gone_and_an_old_marker(tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "data"
    dl.download("facades", root=root, archive=make_archive(tmp_path / "f.tar.gz"), progress=False)
    shutil.rmtree(root / "facades" / "val")
    assert dl.incompleteness("facades", root) == \
        f"its split folder {root / 'facades' / 'val'} is missing"
    # a marker of an older course_lib (no manifest): the listed splits must hold files
    marker = root / "facades" / dl.MARKER
    marker.write_text(json.dumps({"name": "facades", "splits": ["test", "train", "val"]}))
    assert dl.incompleteness("facades", root) == "its split folder(s) val are missing or empty"
    (root / "facades" / "val").mkdir()
    (root / "facades" / "val" / "0.jpg").write_bytes(b"x")
    assert dl.is_complete("facades", root)


def test_an_archive_placed_in_the_cache_by_hand_is_kept(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    archive = make_archive(root / "facades.tar.gz")       # copied there by hand, no --archive
    dl.download("facades", root=root, url=(tmp_path / "unreachable.tar.gz").as_uri(),
                progress=False)
    assert dl.is_complete("facades", root) and archive.is_file()

"""Checkpoints cannot run code: every read is ``weights_only=True`` and a crafted file is refused
by name on each path that reads one (issue 17, cases 1 and 8)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn

from course_lib.cli import main
from course_lib.experiment import Evaluation, open_run
from course_lib.metrics import FCNScore
from course_lib.run_dir import RunDir
from course_lib.train.checkpoint import (CheckpointError, check_plain, load_checkpoint,
                                         save_checkpoint)
from course_lib.train.engine import LoopConfig, TrainingLoop
from course_lib.train.plain import from_plain, to_plain

TINY = ["--profile", "ci", "--quiet", "--device", "cpu", "--no-fcn"]


class _Payload:
    """Unpickling this object would create the folder ``path`` (what an attacker's code does)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.mkdir, (self.path,))


def _evil(path: Path, marker: Path) -> Path:
    torch.save({"step": 1, "models": {}, "optimizers": {}, "x": _Payload(marker)}, path)
    return path


def _refusal(path: Path) -> str:
    return (f"refusing to load {path}: it holds a Python object (posix.mkdir), not only tensors "
            "and plain values, and unpickling it could run code from the file; it was not "
            "executed. Use a checkpoint written by course_lib, from a source you trust")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("guard") / "run"
    assert main(["train", "pix2pix", "--data", "facades", *TINY, "--steps", "2",
                 "--run-dir", str(run)]) == 0
    return run


def _copy_run(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_a_real_checkpoint_is_plain_and_loads_weights_only(trained: Path) -> None:
    state = torch.load(trained / "last.pt", weights_only=True)   # no error: nothing but plain
    assert torch.is_tensor(state["rng"]["torch"]) and state["rng"]["torch"].dtype == torch.uint8
    assert state["meta"]["config"]["model"] == "pix2pix"        # its own copy of the settings
    check_plain(state)


def test_crafted_checkpoint_is_refused_on_every_path(trained: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    run = _copy_run(trained, tmp_path / "run")
    marker = tmp_path / "code_ran"
    ckpt = _evil(run / "last.pt", marker)
    common = ["train", "pix2pix", "--data", "facades", *TINY, "--steps", "2", "--run-dir", str(run)]
    for argv in (common, [*common, "--resume"], ["evaluate", str(run), "--quiet", "--no-fcn"],
                 ["sample", str(run), "--input", str(run / "samples"), "--output",
                  str(tmp_path / "out")]):
        assert main(argv) == 1, argv
        assert capsys.readouterr().err == f"error: {_refusal(ckpt)}\n", argv
    with pytest.raises(CheckpointError) as err:
        RunDir(run).step()
    assert str(err.value) == _refusal(ckpt)
    assert not marker.exists()                      # the payload never ran


def test_notebook_extras_file_is_read_weights_only(tmp_path: Path) -> None:
    net = nn.Linear(2, 2)
    loop = TrainingLoop(lambda b: {}, {"G": net}, {"G": torch.optim.SGD(net.parameters(), 0.1)},
                        LoopConfig(steps=2, run_dir=tmp_path, progress=False))
    loop.save()
    marker = tmp_path / "code_ran"
    extras = _evil(tmp_path / "extras.pt", marker)
    with pytest.raises(CheckpointError) as err:
        open_run(loop, tmp_path, {"steps": 2}, "test", 2, progress=False)
    assert str(err.value) == _refusal(extras) and not marker.exists()


@pytest.mark.parametrize("content, reason", [
    (b"", "EOFError: empty file"),
    (b"PK\x03\x04 half a zip", "RuntimeError: PytorchStreamReader failed reading zip archive: "
                               "not a ZIP archive"),
])
def test_truncated_or_empty_checkpoint_is_one_line(trained: Path, tmp_path: Path, content: bytes,
                                                   reason: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    run = _copy_run(trained, tmp_path / "run")
    (run / "last.pt").write_bytes(content)
    assert main(["train", "pix2pix", "--data", "facades", *TINY, "--steps", "2", "--resume",
                 "--run-dir", str(run)]) == 1
    assert capsys.readouterr().err == (
        f"error: {run / 'last.pt'} is not a readable checkpoint ({reason}); it is truncated or not "
        "a checkpoint: delete it to start the run afresh\n")


def test_random_bytes_and_half_a_real_checkpoint(trained: Path, tmp_path: Path) -> None:
    noise = tmp_path / "noise.pt"
    noise.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(noise)
    assert "noise.pt is not a readable checkpoint" in str(err.value)
    assert "\n" not in str(err.value) and "delete it" in str(err.value)
    half = tmp_path / "half.pt"
    data = (trained / "last.pt").read_bytes()
    half.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match="half.pt is not a readable checkpoint"):
        load_checkpoint(half)


def test_only_plain_values_are_saved(tmp_path: Path) -> None:
    with pytest.raises(TypeError) as err:
        save_checkpoint(tmp_path / "last.pt", {"step": 1, "when": object()})
    assert str(err.value) == ("last.pt['when'] is a builtins.object: a checkpoint holds only "
                              "tensors and plain values (store it as a dict)")
    with pytest.raises(TypeError, match=r"torch.torch_version.TorchVersion"):
        save_checkpoint(tmp_path / "last.pt", {"version": torch.__version__})
    assert not (tmp_path / "last.pt").exists() and list(tmp_path.iterdir()) == []


def test_results_round_trip_as_plain_dicts(tmp_path: Path) -> None:
    ev = Evaluation(fcn=FCNScore(0.5, 0.25, 0.125, (0.1, 0.2)), fcn_real=None, sharpness=1.0,
                    sharpness_inside=0.5, color_spread=0.9, l1=0.2, test_mode="paper", count=4)
    save_checkpoint(tmp_path / "extras.pt", {"evals": [(10, to_plain(ev))]})
    back = load_checkpoint(tmp_path / "extras.pt")["evals"]
    assert from_plain(back, (Evaluation, FCNScore)) == [(10, ev)]
    with pytest.raises(ValueError, match="names the class 'Evaluation', which is not one of"):
        from_plain(back, (FCNScore,))

"""One writer per run folder, leftovers of a killed writer, config.json kept true, and exact
resume with data-loader workers (issue 17, cases 4, 5, 6, 7 and 8)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from course_lib.cli import main
from course_lib.run_dir import RunFolderBusy, RunLock
from course_lib.train.checkpoint import load_checkpoint, save_checkpoint
from course_lib.train.worker_seeding import SeededBatches, StepSeededDataset

TINY = ["--profile", "ci", "--quiet", "--device", "cpu", "--no-fcn"]
TRAIN = ["train", "pix2pix", "--data", "facades", *TINY, "--steps", "2", "--no-eval"]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    state = load_checkpoint(run / "last.pt")
    return {f"{m}.{k}": v for m, sd in state["models"].items() for k, v in sd.items()}


# --------------------------------------------------------------------------- one writer


def test_a_second_writer_is_refused_while_the_first_holds_the_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main([*TRAIN, "--stop-after", "1", "--run-dir", str(run)]) == 0
    assert not (run / "run.lock").exists()                         # released at exit
    with RunLock(run) as held:                                     # "the first trainer"
        holder = json.loads((run / "run.lock").read_text())
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
        busy = (f"error: {run} is in use by another trainer (process {os.getpid()} on "
                f"{socket.gethostname()}, started {holder['started']}): wait for it to finish or "
                "stop it, or pass another --run-dir\n")
        for argv in ([*TRAIN, "--run-dir", str(run)], [*TRAIN, "--run-dir", str(run), "--resume"]):
            assert main(argv) == 1
            assert capsys.readouterr().err == busy
        assert held.held
    assert load_checkpoint(run / "last.pt")["step"] == 1           # nothing was touched
    assert main([*TRAIN, "--run-dir", str(run), "--resume"]) == 0


def test_a_killed_holder_is_taken_over_with_a_message(tmp_path: Path) -> None:
    run = tmp_path / "run"
    code = ("import sys, time; from course_lib.run_dir import RunLock; "
            f"RunLock({str(run)!r}).acquire(); print('held', flush=True); time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        with pytest.raises(RunFolderBusy, match=f"process {child.pid} on"):
            RunLock(run).acquire()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    lock = RunLock(run)
    note = lock.acquire()
    assert note is not None and note.startswith(
        f"note: {run / 'run.lock'} named process {child.pid} on {socket.gethostname()}, started ")
    assert note.endswith(", which is no longer running (killed?); this process takes the "
                         "folder over")
    assert json.loads((run / "run.lock").read_text())["pid"] == os.getpid()
    lock.release()
    assert not (run / "run.lock").exists()


def test_run_dir_that_cannot_be_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    assert main([*TRAIN, "--run-dir", str(a_file)]) == 1
    assert capsys.readouterr().err == (f"error: --run-dir {a_file} is a file, not a folder: pass "
                                       "a folder path\n")
    under = a_file / "run"
    assert main([*TRAIN, "--run-dir", str(under)]) == 1
    assert capsys.readouterr().err == (f"error: --run-dir {under}: cannot create the run folder "
                                       "(Not a directory); pass a folder you can write to\n")
    assert a_file.read_text() == "mine"

    real_open = os.open

    def no_write(path, flags, *args):  # type: ignore[no-untyped-def]
        if str(path).endswith("run.lock"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", no_write)
    locked = tmp_path / "readonly"
    locked.mkdir()
    assert main([*TRAIN, "--run-dir", str(locked)]) == 1
    assert capsys.readouterr().err == (f"error: --run-dir {locked}: cannot write run.lock there "
                                       "(Permission denied); pass a folder you can write to\n")


# --------------------------------------------------------------------------- leftovers


def test_temporaries_of_a_killed_writer_are_removed(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main([*TRAIN, "--stop-after", "1", "--run-dir", str(run)]) == 0
    leftovers = [run / "last.pt.k3j_x9a2.tmp", run / "config.json.abcdefgh.tmp",
                 run / "samples" / "tmpab12cd34.png"]
    mine = [run / "last.pt.notes.tmp", run / "my.tmp", run / "samples" / "tmp_mine.png"]
    for path in leftovers + mine:
        path.write_bytes(b"x" * 10)
    capsys.readouterr()
    assert main([*TRAIN, "--run-dir", str(run), "--resume"]) == 0
    err = capsys.readouterr().err
    for path in leftovers:
        assert not path.exists()
        assert (f"note: removed {path}, a temporary file left by a writer that was stopped "
                "during a save") in err
    assert all(p.exists() for p in mine)


# --------------------------------------------------------------------------- config.json


def test_missing_config_is_rebuilt_from_the_checkpoint_and_still_checked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main([*TRAIN, "--stop-after", "1", "--run-dir", str(run)]) == 0
    (run / "config.json").unlink()
    assert main(["evaluate", str(run), "--quiet", "--no-fcn"]) == 1
    assert capsys.readouterr().err == (
        f"error: {run / 'config.json'} is missing although {run / 'last.pt'} exists: run "
        f"`python -m course_lib train ... --run-dir {run} --resume` once to rebuild it from the "
        "checkpoint's copy, or restore it\n")
    assert main([*TRAIN, "--run-dir", str(run), "--resume", "--lr", "0.01"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"note: {run / 'config.json'} was missing; rebuilt it from the copy of "
                          f"the settings in {run / 'last.pt'}\n")
    assert (f"error: {run} holds a run with other settings (model_args.lr: 0.0002 in the run "
            "folder, 0.01 now). Resume it with the same arguments") in err
    assert json.loads((run / "config.json").read_text())["model_args"]["lr"] == 0.0002
    assert main([*TRAIN, "--run-dir", str(run), "--resume"]) == 0


def test_missing_config_and_an_old_checkpoint_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main([*TRAIN, "--stop-after", "1", "--run-dir", str(run)]) == 0
    state = load_checkpoint(run / "last.pt")
    state.pop("meta")                          # as an older course_lib wrote it
    save_checkpoint(run / "last.pt", state)
    (run / "config.json").unlink()
    assert main([*TRAIN, "--run-dir", str(run), "--resume", "--lr", "0.01"]) == 1
    assert capsys.readouterr().err == (
        f"error: {run / 'config.json'} is missing and {run / 'last.pt'} holds no copy of the run's "
        "settings (an older course_lib wrote it), so they cannot be checked: restore config.json, "
        "or delete the folder to start afresh\n")
    assert not (run / "config.json").exists()            # nothing recorded that was not used


def test_corrupt_config_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main([*TRAIN, "--stop-after", "1", "--run-dir", str(run)]) == 0
    (run / "config.json").write_text('{"model": "pix2pix", ')
    for argv in ([*TRAIN, "--run-dir", str(run), "--resume"], ["evaluate", str(run), "--quiet"]):
        assert main(argv) == 1
        assert capsys.readouterr().err == (
            f"error: {run / 'config.json'} is not valid JSON (Expecting property name enclosed in "
            "double quotes: line 1 column 22 (char 21)): it was damaged or edited by hand; "
            "restore it, or delete it (a run folder's config.json is rebuilt from last.pt on the "
            "next train --resume)\n")


def test_resume_on_an_empty_folder_says_so(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main([*TRAIN, "--run-dir", str(run), "--resume"]) == 0
    assert (f"note: --resume, but {run} holds no checkpoint (last.pt) yet: starting a new run "
            "there") in capsys.readouterr().out


# --------------------------------------------------------------------------- exact resume


def _ab_folder(root: Path, n: int = 6, side: int = 40) -> Path:
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        (root / split).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (side, 2 * side, 3), dtype=np.uint8)).save(
                root / split / f"{i}.png")
    return root


def test_resume_is_bit_identical_with_workers_and_any_worker_count(tmp_path: Path) -> None:
    data = _ab_folder(tmp_path / "pairs")      # folder data: random crops and flips per read
    common = ["train", "pix2pix", "--data", str(data), "--image-size", "32", "--steps", "6",
              "--batch-size", "2", "--ngf", "8", "--ndf", "8", "--quiet", "--device", "cpu",
              "--no-eval", "--checkpoint-every", "1", "--sample-every", "0"]
    assert main([*common, "--workers", "2", "--run-dir", str(tmp_path / "straight")]) == 0
    split = tmp_path / "split"
    assert main([*common, "--workers", "2", "--run-dir", str(split), "--stop-after", "3"]) == 0
    assert main([*common, "--workers", "1", "--run-dir", str(split), "--resume"]) == 0
    assert main([*common, "--workers", "0", "--run-dir", str(tmp_path / "inline")]) == 0
    a = _weights(tmp_path / "straight")
    for other in (split, tmp_path / "inline"):
        b = _weights(other)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), other


def test_reading_a_pair_leaves_the_random_streams_alone() -> None:
    class Jittered(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return 4

        def __getitem__(self, i: int) -> torch.Tensor:
            return torch.rand(3) + i

    data = StepSeededDataset(Jittered())
    keys = list(SeededBatches([[0, 1], [2, 3]], seed=5))   # type: ignore[arg-type]
    torch.manual_seed(0)
    before = torch.get_rng_state()
    first = [data[k] for k in keys[1]]
    assert torch.equal(torch.get_rng_state(), before)
    assert all(torch.equal(x, y) for x, y in zip(first, [data[k] for k in keys[1]]))
    assert not torch.equal(data[keys[0][0]] - 0, data[keys[1][0]] - 2)   # steps differ


def test_a_rank_reads_its_slice_of_the_global_batch_with_the_same_seeds() -> None:
    from course_lib.train.distributed import ShardedStepBatchSampler
    from course_lib.train.engine import StepBatchSampler

    whole = list(SeededBatches(StepBatchSampler(12, 4, steps=5, seed=3, start=2), seed=3))
    halves = [list(SeededBatches(ShardedStepBatchSampler(12, 4, steps=5, seed=3, start=2, rank=r,
                                                         world_size=2), seed=3))
              for r in range(2)]
    assert [a + b for a, b in zip(*halves)] == whole and len(whole) == 3


def test_the_notebooks_training_loop_holds_its_folder_too(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from torch import nn

    from course_lib.train.engine import LoopConfig, TrainingLoop

    class Pairs(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return 4

        def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
            return {"A": torch.full((2,), float(i))}

    net = nn.Linear(2, 2)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)

    def step(batch):  # type: ignore[no-untyped-def]
        loss = net(batch["A"]).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    loop = TrainingLoop(step, {"G": net}, {"G": opt},
                        LoopConfig(steps=2, run_dir=tmp_path, progress=False))
    leftover = tmp_path / "last.pt.a1b2c3d4.tmp"
    leftover.write_bytes(b"half a checkpoint")
    with RunLock(tmp_path):
        with pytest.raises(RunFolderBusy, match=f"{tmp_path} is in use by another trainer"):
            loop.run(Pairs())
    assert leftover.exists() and loop.step == 0        # refused before touching anything
    loop.run(Pairs())
    assert loop.step == 2 and not leftover.exists() and not (tmp_path / "run.lock").exists()
    assert f"note: removed {leftover}" in capsys.readouterr().err


def test_a_damaged_notebook_run_file_names_itself(tmp_path: Path) -> None:
    from course_lib.experiment import _check_same_settings

    (tmp_path / "run.json").write_text("{")
    with pytest.raises(ValueError) as err:
        _check_same_settings(tmp_path, {"steps": 2})
    assert str(err.value) == (
        f"{tmp_path / 'run.json'} is not valid JSON (Expecting property name enclosed in double "
        "quotes: line 1 column 2 (char 1)): it was damaged or edited by hand; restore it, or "
        f"delete {tmp_path} to start this run afresh")

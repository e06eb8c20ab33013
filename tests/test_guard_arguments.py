"""Every argument is used as given or refused in one line; nothing is silently replaced, and a
blow-up is a message, not a traceback (issue 17, cases 8 and 9)."""
from __future__ import annotations

from pathlib import Path

import pytest

from course_lib.cli import main
from course_lib.train.checkpoint import load_checkpoint

TRAIN = ["train", "pix2pix", "--data", "facades", "--profile", "ci", "--quiet", "--device", "cpu",
         "--no-fcn", "--steps", "2"]


@pytest.mark.parametrize("option, value, message", [
    ("--epochs", "-1", "--epochs must be positive, got -1"),
    ("--image-size", "0", "--image-size must be positive, got 0"),
    ("--load-size", "0", "--load-size must be positive, got 0"),
    ("--train-size", "0", "--train-size must be positive, got 0"),
    ("--eval-size", "0", "--eval-size must be positive, got 0 (--no-eval skips the final "
                         "evaluation)"),
    ("--num-samples", "0", "--num-samples must be positive, got 0 (--sample-every 0 turns the "
                           "sample grids off)"),
    ("--stop-after", "0", "--stop-after must be positive, got 0 (the step at which to stop; "
                          "continue later with --resume)"),
    ("--batch-size", "0", "--batch-size must be positive, got 0"),
    ("--log-every", "0", "--log-every must be positive, got 0"),
    ("--workers", "-1", "--workers must be 0 or more, got -1"),
    ("--sample-every", "-1", "--sample-every must be 0 or more, got -1"),
    ("--checkpoint-every", "-1", "--checkpoint-every must be 0 or more, got -1"),
    ("--steps", "0", "--steps must be positive, got 0"),
])
def test_out_of_range_numbers_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          option: str, value: str, message: str) -> None:
    run = tmp_path / "run"
    assert main([*TRAIN, "--run-dir", str(run), option, value]) == 1
    assert capsys.readouterr().err == f"error: {message}\n"
    assert not run.exists()                     # refused before anything was written


def test_a_diverging_run_is_a_message_not_a_traceback(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*TRAIN, "--run-dir", str(tmp_path / "run"), "--lr", "1e30", "--log-every",
                 "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: step 1: [") and err.endswith(
        "] became NaN/inf; lower the learning rate or turn off fp16 autocast (use bf16)\n")
    assert err.count("\n") == 1


def test_stop_after_a_step_already_reached_says_so(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    argv = [*TRAIN, "--no-eval", "--steps", "4", "--run-dir", str(run)]
    assert main([*argv, "--stop-after", "3"]) == 0
    capsys.readouterr()
    assert main([*argv, "--stop-after", "2", "--resume"]) == 0
    assert ("note: the run is already at step 3, not before --stop-after 2: nothing to train"
            in capsys.readouterr().out)
    assert load_checkpoint(run / "last.pt")["step"] == 3


@pytest.mark.parametrize("argv, message", [
    (["--iters", "0"], "--iters must be a positive number, got 0"),
    (["--batch", "4", "0"], "--batch must be positive, got 0"),
    (["--size", "-8"], "--size must be a positive number, got -8"),
    (["--warmup", "-1"], "--warmup must be 0 or more, got -1"),
])
def test_bench_refuses_counts_it_would_replace(capsys: pytest.CaptureFixture[str],
                                               argv: list[str], message: str) -> None:
    assert main(["bench", "--quick", "--no-loader", "--no-flops", *argv]) == 1
    assert capsys.readouterr().err == f"error: {message}\n"

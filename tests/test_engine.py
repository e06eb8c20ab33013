"""The training loop: schedule formula, atomic checkpoints, prefixes, resume = same run."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from course_lib.train import (LoopConfig, StepBatchSampler, TrainingLoop, clean_state_dict,
                              linear_decay_multiplier, linear_decay_scheduler, load_checkpoint,
                              save_checkpoint)


def test_schedule_constant_then_linear_to_zero() -> None:
    m = [linear_decay_multiplier(t, 10) for t in range(11)]
    assert m[:5] == [1.0] * 5
    assert m[5:] == pytest.approx([1.0, 0.8, 0.6, 0.4, 0.2, 0.0])
    with pytest.raises(ValueError, match="decay_start=12"):
        linear_decay_multiplier(0, 10, decay_start=12)
    opt = torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=2e-4)
    sched = linear_decay_scheduler(opt, total_steps=4)
    lrs = []
    for _ in range(4):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([2e-4, 2e-4, 2e-4, 1e-4])


def test_prefixes_from_ddp_and_compile_are_stripped() -> None:
    sd = {"module._orig_mod.conv.weight": torch.ones(1), "_orig_mod.module.bias": torch.zeros(1),
          "plain": torch.ones(2)}
    assert set(clean_state_dict(sd)) == {"conv.weight", "bias", "plain"}


def test_checkpoint_atomic_and_clear_errors(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "run" / "last.pt", {"step": 3})
    assert load_checkpoint(path)["step"] == 3
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # no temporary files left
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="bad.pt is not a readable checkpoint"):
        load_checkpoint(bad)


def test_batch_order_is_a_function_of_the_step() -> None:
    full = list(StepBatchSampler(10, 3, steps=7, seed=1))
    tail = list(StepBatchSampler(10, 3, steps=7, seed=1, start=4))
    assert full[4:] == tail and all(len(b) == 3 for b in full)
    with pytest.raises(ValueError, match="fewer than one batch"):
        StepBatchSampler(2, 4, steps=1)


class _Pairs(Dataset):
    def __len__(self) -> int:
        return 12

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(i)
        x = torch.rand(3, 8, 8, generator=g)
        return {"A": x, "B": x.flip(-1)}


def _make(run_dir: Path, steps: int) -> TrainingLoop:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Dropout(0.3), nn.Conv2d(4, 3, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    sched = linear_decay_scheduler(opt, steps)

    def step(batch):  # type: ignore[no-untyped-def]
        loss = (net(batch["A"]) - batch["B"]).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    cfg = LoopConfig(steps=steps, batch_size=4, log_every=1, checkpoint_every=3,
                     run_dir=run_dir, progress=False)
    return TrainingLoop(step, {"net": net}, {"net": opt}, cfg, schedulers={"net": sched},
                        model_configs={"net": {"width": 4}})


def test_resume_continues_the_same_run(tmp_path: Path) -> None:
    straight = _make(tmp_path / "a", steps=8)
    straight.run(_Pairs())

    interrupted = _make(tmp_path / "b", steps=8)
    interrupted.config.steps = 5          # "interrupted" after step 5; last checkpoint at step 3
    interrupted.run(_Pairs())
    assert load_checkpoint(tmp_path / "b" / "last.pt")["step"] == 5
    resumed = _make(tmp_path / "b", steps=8)
    assert resumed.resume() and resumed.step == 5
    resumed.run(_Pairs())

    p1 = torch.cat([p.flatten() for p in straight.modules["net"].parameters()])
    p2 = torch.cat([p.flatten() for p in resumed.modules["net"].parameters()])
    assert torch.equal(p1, p2)
    assert [r["loss"] for r in straight.history.rows] == [r["loss"] for r in resumed.history.rows]
    assert (tmp_path / "b" / "history.csv").read_text().count("\n") == 9  # header + 8 steps
    state = load_checkpoint(tmp_path / "b" / "last.pt")
    assert state["model_configs"] == {"net": {"width": 4}} and state["step"] == 8


def test_nan_loss_is_reported() -> None:
    net = nn.Linear(1, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    loop = TrainingLoop(lambda b: {"loss_G": float("nan")}, {"g": net}, {"g": opt},
                        LoopConfig(steps=2, batch_size=2, log_every=1, progress=False))
    with pytest.raises(FloatingPointError, match=r"\['loss_G'\] became NaN"):
        loop.run(_Pairs())

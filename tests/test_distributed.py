"""Several processes (DDP, gloo, CPU): the same training as one process with the same batch.

Two processes with a global batch of 4 (2 pairs each) must end a short pix2pix run with
identical weights on both ranks, and with the weights of one process trained on batches of 4,
up to floating-point rounding -- which needs the sharded sampler (the same pairs per step),
DDP's gradient averaging, the synchronised batch norm (the statistics of all 4 pairs) and the
schedulers stepped once per global step. Without synchronised batch norm the runs differ.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

from course_lib.cli import main
from course_lib.data import InMemoryPairs, SyntheticFacades
from course_lib.models import PatchDiscriminator, UNetGenerator
from course_lib.train import StepBatchSampler, TrainingLoop
from course_lib.train import distributed as dd
from course_lib.train.engine import LoopConfig
from course_lib.train.pix2pix import Pix2Pix, Pix2PixConfig

STEPS, BATCH = 4, 4
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_shards_make_up_the_global_batch() -> None:
    full = list(StepBatchSampler(10, 4, steps=6, seed=3, start=1))
    shards = [list(dd.ShardedStepBatchSampler(10, 4, steps=6, seed=3, start=1, rank=r,
                                              world_size=2)) for r in range(2)]
    assert [a + b for a, b in zip(*shards)] == full
    assert all(len(b) == 2 for b in shards[0])
    with pytest.raises(ValueError, match="cannot be split evenly over 2 processes"):
        dd.ShardedStepBatchSampler(10, 3, steps=1, rank=0, world_size=2)
    with pytest.raises(ValueError, match="rank=2"):
        dd.ShardedStepBatchSampler(10, 4, steps=1, rank=2, world_size=2)


def test_one_process_context_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    ctx = dd.init_distributed("cpu")
    assert (ctx.rank, ctx.world_size, ctx.is_main, ctx.distributed) == (0, 1, True, False)
    net = UNetGenerator(num_downs=5, ngf=4)
    assert dd.wrap_ddp(net, ctx) is net and dd.sync_batch_norm(net, ctx) is net
    assert dd.average_values({"a": 2.0}, ctx) == {"a": 2.0}
    assert dd.max_param_divergence({"G": net}, ctx) == 0.0
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    with pytest.raises(RuntimeError, match="torchrun --nproc_per_node"):
        dd.init_distributed("cpu")


def test_batch_norm_conversion_keeps_names_and_reverts() -> None:
    ctx = dd.DistributedContext(rank=0, world_size=2, device="cpu", backend="gloo")
    net = PatchDiscriminator(6, ndf=4)
    names = set(net.state_dict())
    converted = dd.sync_batch_norm(net, ctx)
    kinds = {type(m) for m in converted.modules()}
    assert dd.CPUSyncBatchNorm in kinds and nn.BatchNorm2d not in kinds
    assert set(converted.state_dict()) == names            # checkpoints load into plain models
    plain = dd.local_copy(converted)
    assert dd.CPUSyncBatchNorm not in {type(m) for m in plain.modules()}
    assert set(plain.state_dict()) == names
    x = torch.randn(2, 6, 32, 32)                          # no process group: plain batch norm
    assert torch.allclose(converted(x), plain(x), atol=1e-6)


def _train(ctx: dd.DistributedContext, data: InMemoryPairs, sync: bool) -> dict:
    torch.manual_seed(0)
    G: nn.Module = UNetGenerator(num_downs=5, ngf=8, use_dropout=False)  # dropout: per-rank noise
    D: nn.Module = PatchDiscriminator(6, ndf=8)
    if sync:
        G, D = dd.sync_batch_norm(G, ctx), dd.sync_batch_norm(D, ctx)
    model = Pix2Pix(dd.wrap_ddp(G, ctx), dd.wrap_ddp(D, ctx), Pix2PixConfig(steps=STEPS))
    loop = TrainingLoop(model.train_step, model.modules, model.optimizers,
                        LoopConfig(steps=STEPS, batch_size=BATCH, log_every=1, progress=False,
                                   rank=ctx.rank, world_size=ctx.world_size),
                        schedulers=model.schedulers)
    loop.run(data)
    weights = torch.cat([p.detach().flatten() for k in ("G", "D")
                         for p in model.modules[k].parameters()])
    return {"weights": weights, "loss_G": [r["loss_G"] for r in loop.history.rows],
            "lr": model.opt_G.param_groups[0]["lr"],
            "divergence": dd.max_param_divergence(model.modules, ctx)}


def _worker(rank: int, port: int, data: InMemoryPairs, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    ctx = dd.init_distributed("cpu")
    try:
        results = {sync: _train(ctx, data, sync) for sync in (True, False)}
    finally:
        dd.shutdown(ctx)
    torch.save(results, Path(out) / f"rank{rank}.pt")


def test_two_processes_match_one_process_with_the_same_global_batch(tmp_path: Path) -> None:
    data = InMemoryPairs(SyntheticFacades(32, length=16), exact=True, progress=False)
    single = _train(dd.DistributedContext(), data, sync=True)
    mp.spawn(_worker, args=(_free_port(), data, str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]

    synced = [r[True] for r in ranks]
    assert torch.equal(synced[0]["weights"], synced[1]["weights"])   # DDP: identical copies
    assert synced[0]["divergence"] == synced[1]["divergence"] == 0.0
    gap = (synced[0]["weights"] - single["weights"]).abs().max().item()
    assert gap < 1e-4, gap                                          # same run, up to rounding
    assert synced[0]["loss_G"] == pytest.approx(single["loss_G"], rel=1e-4)   # averaged logs
    assert synced[0]["lr"] == synced[1]["lr"] == pytest.approx(single["lr"])  # same schedule

    local = ranks[0][False]       # batch norm per process: statistics of 2 pairs, not 4
    assert torch.equal(local["weights"], ranks[1][False]["weights"])
    mean_synced = (synced[0]["weights"] - single["weights"]).abs().mean().item()
    mean_local = (local["weights"] - single["weights"]).abs().mean().item()
    assert mean_synced < 1e-6 and mean_local > 100 * mean_synced, (mean_local, mean_synced)


def run_torchrun(args: list[str], run_dir: Path, cwd: Path,
                 timeout: int = 240) -> subprocess.CompletedProcess[str]:
    """``torchrun --standalone --nproc_per_node 2 -m course_lib ARGS --run-dir RUN_DIR`` on
    the CPU, one thread per process; retried once on a fresh folder, since the standalone
    rendezvous can lose a race for its port. Asserts it succeeded and returns the result."""
    import shutil

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    failures = []
    for attempt in range(2):
        if run_dir.exists():
            shutil.rmtree(run_dir)
        done = subprocess.run(
            [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
             "2", "-m", "course_lib", *args, "--run-dir", str(run_dir)],
            capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
        if done.returncode == 0:
            return done
        failures.append(f"attempt {attempt + 1}: rc {done.returncode}\n"
                        + done.stdout[-1500:] + done.stderr[-2500:])
    raise AssertionError("\n".join(failures))


def test_torchrun_cli_only_rank0_writes_and_matches_one_process(tmp_path: Path) -> None:
    common = ["--data", "facades", "--profile", "ci", "--steps", "3", "--no-dropout",
              "--quiet", "--no-fcn", "--device", "cpu", "--sample-every", "3"]
    done = run_torchrun(["train", "pix2pix", *common], tmp_path / "ddp", tmp_path, timeout=180)
    assert done.stdout.count("done: step 3 of 3") == 1                # rank 0 prints, once
    assert "(2 per process x 2)" in done.stdout
    assert main(["train", "pix2pix", *common, "--run-dir", str(tmp_path / "one")]) == 0

    files = sorted(p.relative_to(tmp_path / "ddp").as_posix()
                   for p in (tmp_path / "ddp").rglob("*"))
    assert files == ["config.json", "history.csv", "history.json", "last.pt", "metrics.json",
                     "samples", "samples/step_0000003.png"]         # no temporary leftovers
    import json

    metrics = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["ddp_max_param_divergence"] == 0.0
    a = torch.load(tmp_path / "ddp" / "last.pt", weights_only=True)["models"]
    b = torch.load(tmp_path / "one" / "last.pt", weights_only=True)["models"]
    assert set(a["G"]) == set(b["G"]) and not any(k.startswith("module.") for k in a["G"])
    for net in ("G", "D"):
        for key in b[net]:
            assert torch.allclose(a[net][key].float(), b[net][key].float(), atol=1e-4), key

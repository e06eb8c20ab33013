"""pix2pixHD and BicycleGAN on several processes (DDP, gloo, CPU), as pix2pix in
test_distributed.py: two processes sharing a global batch end a short run with identical
weights on both ranks, and with the weights of one process trained on the same global batch,
up to floating-point rounding.

* pix2pixHD: all three coarse-to-fine phases (G1 alone at half resolution, G2 with G1 frozen,
  everything jointly; Wang et al. 2018 Sec. 3.2), with the instance feature encoder E.
* BicycleGAN: the hybrid (each process takes its share of each half of the batch, and the
  random codes are drawn for the global batch), with instance norm (the paper) and with batch
  norm (synchronised over processes); and cLR-GAN, where E's log-variance gets no gradient.
"""
from __future__ import annotations

import os
import socket
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from course_lib.data import InMemoryPairs, SyntheticShapes, SyntheticStreets
from course_lib.data.streets import CLASS_NAMES
from course_lib.train import TrainingLoop
from course_lib.train import distributed as dd
from course_lib.train.engine import LoopConfig
from course_lib.train.sampling import ShardedStepBatchSampler, StepBatchSampler
from test_distributed import run_torchrun

ROOT = Path(__file__).resolve().parents[1]
BATCH = 4
HD_SIZES = dict(height=32, width=64, n_local_enhancers=1, ngf=4, n_downsample_global=2,
                n_blocks_global=1, n_blocks_local=1, ndf=4, n_layers_D=2, num_D=2,
                use_features=True, nef=4, n_downsample_E=2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_halves_layout_gives_each_rank_its_share_of_each_half() -> None:
    full = list(StepBatchSampler(12, 8, steps=3, seed=5))
    shards = [list(ShardedStepBatchSampler(12, 8, steps=3, seed=5, rank=r, world_size=2,
                                           groups=2)) for r in range(2)]
    for batch, a, b in zip(full, *shards):
        assert a[:2] + b[:2] == batch[:4]          # local first halves make the global first
        assert a[2:] + b[2:] == batch[4:]          # local second halves the global second
    with pytest.raises(ValueError, match=r"2 processes x 2 parts per process: use a multiple "
                                         r"of 4 \(e.g. --batch-size 4 or 8\)"):
        ShardedStepBatchSampler(12, 6, steps=1, world_size=2, groups=2)


def _weights(modules: dict) -> torch.Tensor:
    from course_lib.train.checkpoint import unwrap

    return torch.cat([p.detach().flatten() for k in sorted(modules)
                      for p in unwrap(modules[k]).parameters()])


def _hd(ctx: dd.DistributedContext, data: torch.utils.data.Dataset) -> dict:
    from course_lib.train.pix2pixhd import Pix2PixHDConfig
    from course_lib.train.pix2pixhd_setup import HDSetup, build_pix2pixhd

    setup = HDSetup(**HD_SIZES)
    cfg = Pix2PixHDConfig(steps=3, global_steps=1, fix_global_steps=1)
    model = build_pix2pixhd(setup, len(CLASS_NAMES), cfg, seed=0,
                            convert=lambda net: dd.sync_batch_norm(net, ctx),
                            wrap=lambda net, unused: dd.wrap_ddp(net, ctx, unused))
    loop = TrainingLoop(model.train_step, model.modules, model.optimizers,
                        LoopConfig(steps=3, batch_size=BATCH, log_every=1, progress=False,
                                   rank=ctx.rank, world_size=ctx.world_size),
                        schedulers=model.schedulers)
    loop.run(data)
    return {"weights": _weights(model.modules),
            "phases": [r["phase"] for r in loop.history.rows],
            "loss_G": [r["loss_G"] for r in loop.history.rows],
            "divergence": dd.max_param_divergence(model.modules, ctx)}


BICYCLE_RUNS = (("bicyclegan", "instance"), ("bicyclegan", "batch"), ("clr-gan", "instance"))


def _bicycle(ctx: dd.DistributedContext, data: torch.utils.data.Dataset, variant: str,
             norm: str) -> dict:
    from course_lib.experiment_bicyclegan import default_bicycle_networks
    from course_lib.profiles import PROFILES
    from course_lib.train.bicyclegan import BicycleGAN, BicycleGANConfig

    P = replace(PROFILES["ci"], image_size=32, ngf=4, ndf=4)
    torch.manual_seed(0)
    # Without dropout: each process draws the masks of its own shard, so with dropout N
    # processes train the one-process model in distribution only (as pix2pix's --no-dropout).
    nets = default_bicycle_networks(P, variant=variant, norm=norm, use_dropout=False)
    wrapped = {k: None if n is None else dd.wrap_ddp(
        dd.sync_batch_norm(n, ctx), ctx, k == "E" and variant == "clr-gan")
        for k, n in nets.items()}
    model = BicycleGAN(wrapped["G"], wrapped["E"], wrapped["D"], wrapped["D2"],
                       BicycleGANConfig(variant=variant, steps=3), rank=ctx.rank,
                       world_size=ctx.world_size)
    groups = 2 if variant == "bicyclegan" else 1
    loop = TrainingLoop(model.train_step, model.modules, model.optimizers,
                        LoopConfig(steps=3, batch_size=BATCH, log_every=1, progress=False,
                                   rank=ctx.rank, world_size=ctx.world_size,
                                   batch_groups=groups),
                        schedulers=model.schedulers)
    torch.manual_seed(1)            # the same random state on every process (z, eps)
    loop.run(data)
    return {"weights": _weights(model.modules),
            "loss_G": [r["loss_G"] for r in loop.history.rows],
            "divergence": dd.max_param_divergence(model.modules, ctx)}


class _Float64(torch.utils.data.Dataset):
    """The pairs in float64 (integer maps unchanged)."""

    def __init__(self, pairs: InMemoryPairs) -> None:
        self.pairs = pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> dict:
        return {k: v.double() if torch.is_tensor(v) and v.is_floating_point() else v
                for k, v in self.pairs[i].items()}


def _all(ctx: dd.DistributedContext, streets: InMemoryPairs, shapes: InMemoryPairs) -> dict:
    """Every run, in float64: Adam's first steps move each weight by about ``lr * sign(g)``,
    so in float32 a gradient element near zero (or exactly zero, as a conv bias that instance
    norm subtracts again) flips with the order of the additions, one process or two. In
    float64 that rounding is far below Adam's epsilon, and the comparison measures the
    algorithm."""
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        out = {"hd": _hd(ctx, _Float64(streets))}
        for variant, norm in BICYCLE_RUNS:
            out[f"{variant}/{norm}"] = _bicycle(ctx, _Float64(shapes), variant, norm)
    finally:
        torch.set_default_dtype(default)
    return out


def _worker(rank: int, port: int, streets: InMemoryPairs, shapes: InMemoryPairs,
            out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    ctx = dd.init_distributed("cpu")
    try:
        results = _all(ctx, streets, shapes)
    finally:
        dd.shutdown(ctx)
    torch.save(results, Path(out) / f"rank{rank}.pt")


def test_two_processes_match_one_process_for_pix2pixhd_and_bicyclegan(tmp_path: Path) -> None:
    streets = InMemoryPairs(SyntheticStreets(image_size=(32, 64), length=8), exact=True,
                            progress=False)
    shapes = InMemoryPairs(SyntheticShapes(32, length=8), exact=True, progress=False)
    single = _all(dd.DistributedContext(), streets, shapes)
    mp.spawn(_worker, args=(_free_port(), streets, shapes, str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]

    assert single["hd"]["phases"] == [0.0, 1.0, 2.0]          # global, local, joint
    for key in single:
        a, b, one = ranks[0][key], ranks[1][key], single[key]
        assert torch.equal(a["weights"], b["weights"]), key   # DDP: identical copies
        assert a["divergence"] == b["divergence"] == 0.0, key
        gap = (a["weights"] - one["weights"]).abs().max().item()
        assert gap < 1e-9, (key, gap)                          # same run, up to rounding
        moved = (a["weights"] - _initial(key)).abs().max().item()
        assert moved > 100 * gap, (key, moved, gap)             # and the run did train
        assert a["loss_G"] == pytest.approx(one["loss_G"], rel=1e-4, abs=1e-6), key


_INITIAL: dict[str, torch.Tensor] = {}


def _initial(key: str) -> torch.Tensor:
    """The untrained weights of a run (the same seed as the runs above)."""
    if key not in _INITIAL:
        from course_lib.experiment_bicyclegan import default_bicycle_networks
        from course_lib.profiles import PROFILES
        from course_lib.train.pix2pixhd_setup import HDSetup, build_networks

        if key == "hd":
            setup = HDSetup(**HD_SIZES)
            torch.manual_seed(0)
            nets = build_networks(setup, len(CLASS_NAMES), coarse_D=True)
        else:
            variant, norm = key.split("/")
            torch.manual_seed(0)
            nets = {k: n for k, n in default_bicycle_networks(
                replace(PROFILES["ci"], image_size=32, ngf=4, ndf=4), variant=variant,
                norm=norm, use_dropout=False).items() if n is not None}
        _INITIAL[key] = _weights(nets).double()
    return _INITIAL[key]


@pytest.mark.parametrize("model,data,extra", [
    ("pix2pixhd", "streets", ["--global-steps", "1", "--fix-global-steps", "1"]),
    ("bicyclegan", "shapes", []),
])
def test_torchrun_cli_trains_pix2pixhd_and_bicyclegan(tmp_path: Path, model: str, data: str,
                                                      extra: list[str]) -> None:
    run_dir = tmp_path / "ddp"
    done = run_torchrun(["train", model, "--data", data, "--profile", "ci", "--steps", "3",
                         "--device", "cpu", "--quiet", "--no-fcn", *extra], run_dir, tmp_path)
    assert done.stdout.count("done: step 3 of 3") == 1                # rank 0 prints, once
    assert "per process x 2" in done.stdout
    import json

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["ddp_max_param_divergence"] == 0.0
    saved = torch.load(run_dir / "last.pt", weights_only=True)["models"]
    assert not any(k.startswith(("module.", "G.")) for k in saved["G"])  # plain state dicts


def test_more_processes_than_the_global_batch_stop_before_training(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch check runs before any network is built (here as rank 0 of 2 processes; the
    check needs no process group, so none is started)."""
    from course_lib import runner

    two = dd.DistributedContext(rank=0, world_size=2, device="cpu", backend="gloo")
    monkeypatch.setattr(runner, "init_distributed", lambda device=None: two)
    monkeypatch.setattr(runner, "shutdown", lambda ctx: None)
    built = []
    for name in ("bicyclegan", "pix2pixhd"):
        monkeypatch.setattr(type(runner.get_recipe(name)), "build",
                            lambda *a, **k: built.append(1))
    for model, data, batch, message in (
            ("bicyclegan", "shapes", 2, "--batch-size 2 is the global batch, split over the 2 "
             "process(es) and into 2 parts per process: it must be a multiple of 4; 2 "
             "processes need at least 4 pairs per step (use --batch-size 4 or fewer "
             "processes)"),
            ("pix2pixhd", "streets", 1, "--batch-size 1 is the global batch, split over the 2 "
             "process(es): it must be a multiple of 2; 2 processes need at least 2 pairs per "
             "step (use --batch-size 2 or fewer processes)")):
        with pytest.raises(ValueError) as err:
            runner.train(model, data, profile="ci", batch_size=batch, steps=1, device="cpu",
                         run_dir=tmp_path / model, progress=False, fcn=False)
        assert str(err.value) == message
    assert not built and not any(tmp_path.iterdir())


def test_the_samplers_have_one_home_and_the_trainers_import_one_way() -> None:
    """engine -> distributed -> sampling, never back (the samplers used to live in engine,
    which distributed imported while engine imported distributed)."""
    import ast

    def imports(name: str) -> set[str]:
        tree = ast.parse((ROOT / "course_lib" / "train" / f"{name}.py").read_text())
        return {n.module for n in ast.walk(tree)
                if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("course_lib")}

    assert "course_lib.train.engine" not in imports("distributed")
    assert not imports("sampling")
    assert {"course_lib.train.sampling", "course_lib.train.distributed"} <= imports("engine")
    from course_lib.train import distributed, engine, sampling

    assert engine.StepBatchSampler is sampling.StepBatchSampler
    assert distributed.ShardedStepBatchSampler is sampling.ShardedStepBatchSampler

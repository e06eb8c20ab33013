"""The training loop shared by pix2pix, pix2pixHD and BicycleGAN.

Each model supplies a *step function* -- one readable function that takes a batch, updates the
discriminator(s) and the generator, and returns a dict of numbers (pix2pix's is in
:mod:`course_lib.train.pix2pix`). This module runs it for a number of steps and takes care of
everything around it:

* the batch order: batch ``t`` is a pure function of ``(seed, t)``, so a resumed run sees the
  same data as an uninterrupted one (:class:`~course_lib.train.sampling.StepBatchSampler`);
* loss history, ``tqdm.auto`` progress, periodic callbacks for samples and evaluation;
* atomic checkpoints of every model, optimizer, scheduler, the step, the history and the RNG
  states, and resume that continues the same run (bit-identical on CPU, with any number of
  data-loader workers: :mod:`course_lib.train.worker_seeding`);
* opt-in speed on GPUs: channels_last memory format and ``torch.compile`` of the models
  (mixed precision belongs to the step function, which knows where losses are computed);
* several processes (``torchrun``): with ``world_size > 1`` each rank draws its slice of the
  global batch, logged numbers are averaged over ranks, and only rank 0 writes files or shows
  progress (the models' DDP wrapping is :mod:`course_lib.train.distributed`'s).
"""
from __future__ import annotations

import csv
import json
import math
import sys
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset

from course_lib.profiles import MAX_STEPS_VAR, max_steps
from course_lib.train.checkpoint import clean_state_dict, load_checkpoint, save_checkpoint, unwrap
from course_lib.train.distributed import DistributedContext, average_values
from course_lib.train.optim import keep_implementation
from course_lib.train.sampling import ShardedStepBatchSampler, StepBatchSampler

__all__ = ["LoopConfig", "History", "StepBatchSampler", "TrainingLoop"]

StepFn = Callable[[Mapping[str, Any]], Mapping[str, float]]


@dataclass
class LoopConfig:
    """What the loop does around the step function.

    Attributes:
        steps: total training steps of the run (a resumed run continues up to this number).
        batch_size: pairs per step.
        seed: seeds the batch order and each pair's read (its random jitter: a function of
            seed, step and place in the batch, whatever worker reads it); model seeding is the
            caller's.
        log_every: record the step's numbers in the history every this many steps.
        checkpoint_every: write ``run_dir/last.pt`` every this many steps (0: only at the end).
        callback_every: call the ``on_interval`` callback every this many steps (0: never).
        run_dir: folder for checkpoints and history; ``None`` keeps everything in memory.
        num_workers: data-loader worker processes.
        progress: show a ``tqdm.auto`` progress bar.
        channels_last: convert models and image batches to channels_last (faster convs on GPUs
            and under bf16 on CPUs).
        compile: wrap models with ``torch.compile``.
        rank, world_size: this process's place in a ``torchrun`` run (default: one process).
            ``batch_size`` stays the *global* batch; each rank gets ``batch_size // world_size``
            pairs of it (:class:`~course_lib.train.sampling.ShardedStepBatchSampler`).
        batch_groups: parts of the global batch that the step function uses differently
            (2 for BicycleGAN's hybrid, which splits every batch in halves); each rank takes
            its share of every part, so its local halves belong to the global halves.
        on_step: called with the step number after every step (e.g. to report progress from
            another process, :mod:`course_lib.side_by_side`); not part of the run's settings.
    """

    steps: int
    batch_size: int = 1
    seed: int = 0
    log_every: int = 10
    checkpoint_every: int = 0
    callback_every: int = 0
    run_dir: str | Path | None = None
    num_workers: int = 0
    progress: bool = True
    channels_last: bool = False
    compile: bool = False
    rank: int = 0
    world_size: int = 1
    batch_groups: int = 1
    on_step: Callable[[int], None] | None = None

    def __post_init__(self) -> None:
        if self.steps <= 0 or self.batch_size <= 0:
            raise ValueError(f"steps ({self.steps}) and batch_size ({self.batch_size}) must be "
                             "positive")
        if self.world_size < 1 or not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank={self.rank} must lie in [0, world_size={self.world_size})")
        if self.batch_groups < 1:
            raise ValueError(f"batch_groups={self.batch_groups} must be >= 1")


@dataclass
class History:
    """Numbers recorded during training: one row per logged step."""

    rows: list[dict[str, float]] = field(default_factory=list)

    def append(self, step: int, values: Mapping[str, float]) -> None:
        self.rows.append({"step": float(step), **{k: float(v) for k, v in values.items()}})

    def series(self, key: str) -> tuple[list[int], list[float]]:
        """``(steps, values)`` of one recorded quantity."""
        pts = [(int(r["step"]), r[key]) for r in self.rows if key in r]
        if not pts:
            known = sorted({k for r in self.rows for k in r} - {"step"})
            raise KeyError(f"{key!r} was never recorded; recorded: {known}")
        return [p[0] for p in pts], [p[1] for p in pts]

    def keys(self) -> list[str]:
        return sorted({k for r in self.rows for k in r} - {"step"})

    def to_csv(self, path: str | Path) -> None:
        keys = ["step"] + self.keys()
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=keys)
            writer.writeheader()
            writer.writerows(self.rows)

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.rows))


class TrainingLoop:
    """Run a step function for ``config.steps`` steps with history, progress and checkpoints.

    Args:
        step_fn: ``step_fn(batch) -> {name: number}``; it does the optimisation itself.
        modules: the networks, by name (saved and restored; compiled if asked).
        optimizers: their optimizers, by name (saved and restored).
        schedulers: learning-rate schedulers, stepped once after every step.
        config: the :class:`LoopConfig`.
        model_configs: constructor arguments of each module, saved beside its weights so a
            checkpoint rebuilds its models.
    """

    def __init__(self, step_fn: StepFn, modules: Mapping[str, nn.Module],
                 optimizers: Mapping[str, torch.optim.Optimizer], config: LoopConfig,
                 schedulers: Mapping[str, Any] | None = None,
                 model_configs: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.step_fn = step_fn
        self.modules = dict(modules)
        self.optimizers = dict(optimizers)
        self.schedulers = dict(schedulers or {})
        self.config = config
        self.model_configs = {k: dict(v) for k, v in (model_configs or {}).items()}
        self.step = 0
        self.history = History()
        self.seconds = 0.0
        self.meta: dict[str, Any] = {}   # plain values saved with the run (e.g. its settings)
        if config.channels_last:
            for m in self.modules.values():
                m.to(memory_format=torch.channels_last)

    # -- checkpoints ----------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path | None:
        return None if self.config.run_dir is None else Path(self.config.run_dir) / "last.pt"

    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "seconds": self.seconds,
            "models": {k: clean_state_dict(unwrap(m).state_dict()) for k, m in self.modules.items()},
            "model_configs": self.model_configs,
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "history": self.history.rows,
            "meta": self.meta,
            "loop_config": {f.name: str(v) if isinstance(v, Path) else v
                            for f in fields(self.config) if f.name != "on_step"
                            for v in (getattr(self.config, f.name),)},
            "rng": {"torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        missing = {"step", "models", "optimizers"} - set(state)
        if missing:
            raise KeyError(f"checkpoint lacks {sorted(missing)}: it was not written by TrainingLoop")
        for name, module in self.modules.items():
            if name not in state["models"]:
                raise KeyError(f"checkpoint has no weights for {name!r} "
                               f"(it has {sorted(state['models'])})")
            unwrap(module).load_state_dict(clean_state_dict(state["models"][name]))
        for name, opt in self.optimizers.items():   # fused or not, as each was built
            keep_implementation(opt, state["optimizers"][name])
        for name, sched in self.schedulers.items():
            if name in state.get("schedulers", {}):
                sched.load_state_dict(state["schedulers"][name])
        self.step = int(state["step"])
        self.seconds = float(state.get("seconds", 0.0))
        self.history = History(list(state.get("history", [])))
        self.meta = dict(state.get("meta", {}))
        rng = state.get("rng", {})
        if "torch" in rng:
            torch.set_rng_state(rng["torch"].cpu())   # loaded with map_location
        if rng.get("cuda") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in rng["cuda"]])

    def save(self) -> Path | None:
        """Write ``run_dir/last.pt`` and ``run_dir/history.csv`` (if there is a run_dir; only
        rank 0 writes)."""
        path = self.checkpoint_path
        if path is None or self.config.rank != 0:
            return None
        save_checkpoint(path, self.state_dict())
        if self.history.rows:
            self.history.to_csv(path.parent / "history.csv")
        return path

    def resume(self, path: str | Path | None = None) -> bool:
        """Continue from ``path`` (default ``run_dir/last.pt``) if it exists; True if resumed."""
        path = Path(path) if path is not None else self.checkpoint_path
        if path is None or not path.exists():
            return False
        device = next(iter(self.modules.values())).parameters().__next__().device
        self.load_state_dict(load_checkpoint(path, map_location=device))
        return True

    # -- the loop -------------------------------------------------------------------------
    def _loader(self, dataset: Dataset) -> DataLoader:
        cfg = self.config
        sampler: StepBatchSampler
        if cfg.world_size > 1:
            sampler = ShardedStepBatchSampler(len(dataset), cfg.batch_size, cfg.steps,  # type: ignore[arg-type]
                                              cfg.seed, start=self.step, rank=cfg.rank,
                                              world_size=cfg.world_size,
                                              groups=cfg.batch_groups)
        else:
            sampler = StepBatchSampler(len(dataset), cfg.batch_size, cfg.steps, cfg.seed,  # type: ignore[arg-type]
                                       start=self.step)
        # A generator of its own: creating the loader's iterator must not draw from the global
        # RNG, or a resumed run's dropout masks would differ from an uninterrupted run's. Each
        # pair is read under a seed of (seed, step, place in the global batch), whatever worker
        # reads it (course_lib.train.worker_seeding): resume is exact with any num_workers.
        from course_lib.train.worker_seeding import SeededBatches, StepSeededDataset

        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + self.step)
        return DataLoader(StepSeededDataset(dataset),
                          batch_sampler=SeededBatches(sampler, cfg.seed),
                          num_workers=cfg.num_workers,
                          pin_memory=torch.cuda.is_available(), generator=gen,
                          persistent_workers=cfg.num_workers > 0)

    def _to_device(self, batch: Mapping[str, Any], device: torch.device) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in batch.items():
            if torch.is_tensor(v):
                v = v.to(device, non_blocking=True)
                if self.config.channels_last and v.dim() == 4:
                    v = v.contiguous(memory_format=torch.channels_last)
            out[k] = v
        return out

    def _average(self, values: Mapping[str, float]) -> Mapping[str, float]:
        """The mean of the logged numbers over ranks (all ranks log at the same steps)."""
        device = next(iter(self.modules.values())).parameters().__next__().device
        ctx = DistributedContext(rank=self.config.rank, world_size=self.config.world_size,
                                 device=str(device), backend=dist.get_backend())
        return average_values(values, ctx)

    def run(self, dataset: Dataset, on_interval: Callable[["TrainingLoop"], None] | None = None,
            desc: str = "training") -> History:
        """Train until ``config.steps``; returns the history. Resumes nothing by itself: call
        :meth:`resume` first to continue an interrupted run.

        With a ``run_dir``, rank 0 holds the folder while it trains (one writer per folder:
        :func:`~course_lib.train.run_lock.hold_run_folder`) and first deletes the temporary
        checkpoint files a killed writer left there."""
        if self.config.run_dir is None or self.config.rank != 0 or self.step >= self.config.steps:
            return self._run(dataset, on_interval, desc)
        from course_lib.train.checkpoint import remove_stale_temporaries
        from course_lib.train.run_lock import hold_run_folder

        with hold_run_folder(self.config.run_dir):
            assert self.checkpoint_path is not None
            for leftover in remove_stale_temporaries(self.checkpoint_path):
                print(f"note: removed {leftover}, a temporary file left by a writer that was "
                      "stopped during a save", file=sys.stderr, flush=True)
            return self._run(dataset, on_interval, desc)

    def _run(self, dataset: Dataset, on_interval: Callable[["TrainingLoop"], None] | None,
             desc: str) -> History:
        cfg = self.config
        if self.step >= cfg.steps:
            return self.history
        if cfg.compile:
            self.modules = {k: torch.compile(m) for k, m in self.modules.items()}  # type: ignore[misc]
        device = next(iter(self.modules.values())).parameters().__next__().device
        bar = None
        if cfg.progress and cfg.rank == 0:
            from course_lib.progress import tqdm

            cap = max_steps()
            if cap is not None:           # a dry run: say so where the learner looks
                desc = f"{desc} [{MAX_STEPS_VAR}={cap}]"
            bar = tqdm(total=cfg.steps, initial=self.step, desc=desc, unit="step")
        t0 = time.perf_counter()
        try:
            for raw in self._loader(dataset):
                batch = self._to_device(raw, device)
                values = self.step_fn(batch)
                for sched in self.schedulers.values():
                    sched.step()
                self.step += 1
                if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                    if cfg.world_size > 1:
                        values = self._average(values)
                    bad = [k for k, v in values.items() if not math.isfinite(float(v))]
                    if bad:
                        raise FloatingPointError(
                            f"step {self.step}: {bad} became NaN/inf; lower the learning rate or "
                            "turn off fp16 autocast (use bf16)")
                    self.history.append(self.step, values)
                    if bar is not None:
                        bar.set_postfix({k: f"{float(v):.3f}" for k, v in list(values.items())[:4]})
                if bar is not None:
                    bar.update(1)
                if cfg.on_step is not None:
                    cfg.on_step(self.step)
                if cfg.callback_every and on_interval and self.step % cfg.callback_every == 0:
                    on_interval(self)
                if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                    self.seconds += time.perf_counter() - t0
                    t0 = time.perf_counter()
                    self.save()
        finally:
            self.seconds += time.perf_counter() - t0
            if bar is not None:
                bar.close()
        self.save()
        return self.history

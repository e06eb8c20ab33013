"""Training on several GPUs (or CPU processes): DistributedDataParallel, the torchrun way.

``torchrun --nproc_per_node N -m course_lib train ...`` starts N copies of the same program;
each learns its place from environment variables (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``, ``MASTER_PORT``). This module turns that into a training run whose result
does not depend on N beyond floating-point rounding:

* **One process per device** (:func:`init_distributed`): NCCL on GPUs, gloo on CPUs. A program
  started without torchrun gets a one-process context, and everything below is a no-op.
* **The data** (:class:`~course_lib.train.sampling.ShardedStepBatchSampler`, which lives with
  the one-process sampler in :mod:`course_lib.train.sampling`): the *global* batch of step
  ``t`` is exactly the one a single process would draw, and rank ``r`` takes the ``r``-th
  equal slice of it. N processes with B/N pairs each
  therefore see, together, the same pairs as one process with batch B.
* **The gradients** are averaged by :class:`torch.nn.parallel.DistributedDataParallel` (no
  hand-written all-reduce). GAN steps call the discriminator with its weights frozen during
  the generator update; :class:`FreezableDDP` then calls the wrapped network directly, so
  DDP never waits for gradients that a frozen network does not produce.
* **Batch norm** (pix2pix's U-Net and PatchGAN, Isola et al. 2017, Appendix 6.1) normalises
  with the statistics of the batch. Split over N processes, each would normalise with its own
  B/N pairs -- with the paper's batch of 1 per GPU that is instance norm. :func:`sync_batch_norm`
  converts every batch-norm layer so that the statistics are those of the global batch:
  :class:`torch.nn.SyncBatchNorm` on GPUs and :class:`CPUSyncBatchNorm` on CPUs (PyTorch's
  refuses CPU tensors). Instance norm (pix2pixHD) needs nothing.
* **The learning-rate schedule** is defined over *steps* (:mod:`course_lib.train.schedule`);
  every process steps its schedulers once per global step, so all of them use the same rate
  at the same step, and a run with N processes and global batch B follows the same schedule as
  one process with batch B.
* **Only rank 0 writes** (checkpoints, history, samples, metrics); every rank reads the same
  checkpoint to resume.

Parameter averaging makes the processes' weights identical after every step;
:func:`max_param_divergence` measures it (the CLI records it in ``metrics.json``).
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from typing import Any, Mapping

import torch
import torch.distributed as dist
from torch import nn

from course_lib.train.sampling import ShardedStepBatchSampler  # re-exported; its home is sampling

__all__ = ["DistributedContext", "init_distributed", "shutdown", "ShardedStepBatchSampler",
           "CPUSyncBatchNorm", "sync_batch_norm", "local_copy", "FreezableDDP", "wrap_ddp",
           "average_values", "max_param_divergence", "barrier"]

_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands in a (possibly one-process) run.

    Attributes:
        rank: this process's index in ``[0, world_size)``; rank 0 writes the files.
        world_size: number of processes.
        local_rank: index on this machine (the GPU this process uses).
        device: ``"cpu"`` or ``"cuda:<local_rank>"``.
        backend: ``"nccl"``, ``"gloo"`` or ``None`` (one process, no process group).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "cpu"
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        """True on the process that writes files and prints progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _env_int(name: str) -> int:
    value = os.environ[name]
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer; it is set "
                         "by torchrun, do not set it by hand") from None


def init_distributed(device: str | None = None, backend: str | None = None
                     ) -> DistributedContext:
    """Join the process group that torchrun set up, or return a one-process context.

    Args:
        device: ``"cuda"`` or ``"cpu"``; default the GPU when there is one. Under torchrun on
            GPUs each process takes GPU ``LOCAL_RANK``.
        backend: default ``"nccl"`` on GPUs and ``"gloo"`` on CPUs.

    Raises:
        RuntimeError: torchrun's variables are incomplete, or there are fewer GPUs than
            processes on this machine.
    """
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device={device!r}: use 'cpu' or 'cuda'")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for but torch sees no GPU; use --device cpu")
    world_size = _env_int("WORLD_SIZE") if "WORLD_SIZE" in os.environ else 1
    if world_size <= 1:
        return DistributedContext(device=device)
    missing = [v for v in _TORCHRUN_VARS if v not in os.environ]
    if missing:
        raise RuntimeError(f"WORLD_SIZE={world_size} but {missing} are not set: start several "
                           "processes with `torchrun --nproc_per_node N -m course_lib train ...`")
    rank, local_rank = _env_int("RANK"), _env_int("LOCAL_RANK")
    if device == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(
                f"process LOCAL_RANK={local_rank} needs GPU {local_rank}, but this machine has "
                f"{torch.cuda.device_count()}: pass --nproc_per_node at most "
                f"{torch.cuda.device_count()}")
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    backend = backend or ("nccl" if device.startswith("cuda") else "gloo")
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return DistributedContext(rank=rank, world_size=world_size, local_rank=local_rank,
                              device=device, backend=backend)


def shutdown(ctx: DistributedContext) -> None:
    """Leave the process group (call once, at the end of the run)."""
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()


def barrier(ctx: DistributedContext) -> None:
    """Wait until every process arrives (no-op with one process)."""
    if ctx.distributed:
        dist.barrier()


class _SumOverRanks(torch.autograd.Function):
    """``sum over ranks`` of a tensor, differentiable: the gradient of each rank's input is
    the sum of the gradients of all ranks' outputs (every rank's loss depends on the sum)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        out = x.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class CPUSyncBatchNorm(nn.BatchNorm2d):
    """Batch norm over the global batch of all processes, for CPU (gloo) runs.

    :class:`torch.nn.SyncBatchNorm` only accepts GPU tensors. This layer computes the same
    thing on any device: each process sums ``x`` and ``x**2`` per channel over its pairs,
    the sums (in float64) and counts are added over processes by a differentiable all-reduce
    (so the backward pass is synchronised too, as in ``SyncBatchNorm``),
    and the result normalises with the global mean and (biased) variance, as batch norm on the
    global batch does. Running averages use the unbiased variance, as ``BatchNorm2d``. Outside
    training, or in a one-process run, it is ``BatchNorm2d``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized()
                and dist.get_world_size() > 1):
            return super().forward(x)
        self._check_input_dim(x)
        # Sums in float64: var = E[x^2] - E[x]^2 cancels catastrophically in float32 when a
        # channel's mean is large against its spread (deep U-Net layers on 2x2 maps).
        xd = x.double()
        count = torch.tensor([x.numel() / x.shape[1]], dtype=torch.float64, device=x.device)
        stats = torch.cat([xd.sum(dim=(0, 2, 3)), xd.square().sum(dim=(0, 2, 3)), count])
        stats = _SumOverRanks.apply(stats)                     # (2C + 1,) summed over ranks
        c = x.shape[1]
        n = stats[2 * c]
        mean = stats[:c] / n
        var = (stats[c:2 * c] / n - mean.square()).clamp_min(0.0)   # biased, as in training
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                assert self.running_var is not None and self.num_batches_tracked is not None
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else \
                    1.0 / float(self.num_batches_tracked)
                unbiased = var * (n / (n - 1).clamp_min(1.0))
                self.running_mean.mul_(1 - m).add_(mean.detach().to(self.running_mean.dtype), alpha=m)
                self.running_var.mul_(1 - m).add_(unbiased.detach().to(self.running_var.dtype), alpha=m)
        work = torch.promote_types(x.dtype, torch.float32)    # fp16/bf16 in float32, fp64 as is
        xf, mean, var = x.to(work), mean.to(work), var.to(work)
        y = (xf - mean[None, :, None, None]) * torch.rsqrt(var[None, :, None, None] + self.eps)
        if self.affine:
            y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return y.to(x.dtype)


def _swap_batch_norm(module: nn.Module, make: Any) -> nn.Module:
    """Replace every ``BatchNorm2d`` (or subclass) in ``module`` by ``make(old)``, in place."""
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return make(module)
    for name, child in module.named_children():
        setattr(module, name, _swap_batch_norm(child, make))
    return module


def _copy_bn(old: nn.modules.batchnorm._BatchNorm, cls: type[nn.Module]) -> nn.Module:
    new = cls(old.num_features, old.eps, old.momentum, old.affine, old.track_running_stats)
    new.load_state_dict(old.state_dict())
    new.train(old.training)
    return new.to(next(iter(old.state_dict().values())).device) if old.state_dict() else new


def sync_batch_norm(module: nn.Module, ctx: DistributedContext) -> nn.Module:
    """Make ``module``'s batch norm use the global batch's statistics (see the module doc).

    With one process the module is returned unchanged. Returns the (converted) module;
    parameter and buffer names are unchanged, so checkpoints load into the plain model.
    """
    if not ctx.distributed:
        return module
    if ctx.device.startswith("cuda"):
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return _swap_batch_norm(module, lambda bn: bn if isinstance(bn, CPUSyncBatchNorm)
                            else _copy_bn(bn, CPUSyncBatchNorm))


def local_copy(module: nn.Module) -> nn.Module:
    """A plain copy of ``module`` for work that only rank 0 does (samples, evaluation).

    Removes the DDP and ``torch.compile`` wrappers and turns synchronised batch norm back
    into ``BatchNorm2d``: a synchronised layer in training mode (the paper's test-time mode)
    would wait forever for the other processes.
    """
    from course_lib.train.checkpoint import unwrap

    plain = copy.deepcopy(unwrap(module))
    return _swap_batch_norm(plain, lambda bn: _copy_bn(bn, nn.BatchNorm2d)
                            if isinstance(bn, (nn.SyncBatchNorm, CPUSyncBatchNorm)) else bn)


class FreezableDDP(nn.parallel.DistributedDataParallel):
    """DistributedDataParallel that steps aside while its network is frozen.

    A GAN's generator update runs the discriminator with ``requires_grad_(False)``: gradients
    flow *through* D into G, none into D's weights. Plain DDP would still expect D's gradients
    and fail at the next step ("expected to have finished reduction in the prior iteration").
    When no parameter requires a gradient this wrapper calls the wrapped network directly.
    """

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        if not any(p.requires_grad for p in self.module.parameters()):
            return self.module(*inputs, **kwargs)
        return super().forward(*inputs, **kwargs)


def wrap_ddp(module: nn.Module, ctx: DistributedContext,
             find_unused_parameters: bool = False) -> nn.Module:
    """Wrap ``module`` in :class:`FreezableDDP` (one-process runs get it back unchanged).

    ``find_unused_parameters=True`` is for a network of which a step may use only a part, or
    freeze a part: pix2pixHD's local enhancer, whose phase 1 trains the global generator
    alone and whose phase 2 freezes it (Wang et al. 2018, Sec. 3.2), and BicycleGAN's encoder
    in cLR-GAN, which only uses E's mean. DDP then finds, every step, the weights that got no
    gradient on any process and leaves their gradients untouched.
    """
    if not ctx.distributed:
        return module
    ids = [ctx.local_rank] if ctx.device.startswith("cuda") else None
    return FreezableDDP(module, device_ids=ids, find_unused_parameters=find_unused_parameters)


def average_values(values: Mapping[str, float], ctx: DistributedContext) -> dict[str, float]:
    """The mean of each logged number over processes (losses of equal shards average to the
    loss of the global batch). Every process must call it at the same step."""
    if not ctx.distributed or not values:
        return {k: float(v) for k, v in values.items()}
    keys = list(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64,
                     device=ctx.device if ctx.backend == "nccl" else "cpu")
    dist.all_reduce(t)
    return {k: float(v) / ctx.world_size for k, v in zip(keys, t.tolist())}


def max_param_divergence(modules: Mapping[str, nn.Module], ctx: DistributedContext) -> float:
    """Largest ``|w_rank - w_rank0|`` over all weights and processes (0.0 with one process).

    DDP keeps the copies identical; a non-zero value means something (a per-rank random draw,
    a forgotten SyncBatchNorm buffer) has made them drift apart.
    """
    if not ctx.distributed:
        return 0.0
    from course_lib.train.checkpoint import unwrap

    worst = torch.zeros((), dtype=torch.float64,
                        device=ctx.device if ctx.backend == "nccl" else "cpu")
    for name in sorted(modules):
        for p in unwrap(modules[name]).parameters():
            ref = p.detach().clone()
            if ctx.backend != "nccl":
                ref = ref.cpu()
            dist.broadcast(ref, src=0)
            diff = (p.detach().to(ref.device) - ref).abs().max().double()
            worst = torch.maximum(worst, diff.to(worst.device))
    dist.all_reduce(worst, op=dist.ReduceOp.MAX)
    return float(worst)

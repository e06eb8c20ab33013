"""Which pairs each training step sees: the step samplers, one process or several.

A resumable GAN run needs its batches to be a function of the step alone, not of how often
the run was interrupted, and a run on N processes (``torchrun``) needs them to add up to the
batches of one process, so that the two train the same model:

* :class:`StepBatchSampler` -- the global batch of step ``t`` is a pure function of
  ``(seed, t)``: epoch ``e`` is a permutation drawn from ``seed + e``, and the last incomplete
  batch of every epoch is dropped (batch norm needs equal batches).
* :class:`ShardedStepBatchSampler` -- rank ``r`` of ``N`` takes its equal slice of that same
  global batch. With ``groups = 2`` the global batch is read as two halves that a step uses
  differently (BicycleGAN's hybrid, Zhu et al. 2017 Sec. 3.4: the first half goes through
  the cVAE-GAN branch, the second half provides the real images of the cLR-GAN branch), and
  each rank takes its slice of *each* half, so that its own first half belongs to the
  global first half.

The training loop (:mod:`course_lib.train.engine`) and the multi-process helpers
(:mod:`course_lib.train.distributed`) both use this module; it uses neither.
"""
from __future__ import annotations

from typing import Iterator

import torch
from torch.utils.data import Sampler

__all__ = ["StepBatchSampler", "ShardedStepBatchSampler"]


class StepBatchSampler(Sampler[list[int]]):
    """Yields the index batches of steps ``start, start+1, ..., steps-1``.

    Epoch ``e`` is a permutation of the dataset drawn from ``seed + e``; step ``t`` takes batch
    ``t mod (N // batch_size)`` of epoch ``t // (N // batch_size)``. The last incomplete batch
    of each epoch is dropped, so every batch has the same size (batch norm needs that).
    """

    def __init__(self, length: int, batch_size: int, steps: int, seed: int = 0,
                 start: int = 0) -> None:
        if length < batch_size:
            raise ValueError(f"the dataset has {length} pairs, fewer than one batch of "
                             f"{batch_size}: lower batch_size or use more data")
        self.length, self.batch_size, self.steps = length, batch_size, steps
        self.seed, self.start = seed, start
        self.per_epoch = length // batch_size

    def __len__(self) -> int:
        return max(0, self.steps - self.start)

    def __iter__(self) -> Iterator[list[int]]:
        epoch, perm = -1, torch.empty(0, dtype=torch.long)
        for t in range(self.start, self.steps):
            e, k = divmod(t, self.per_epoch)
            if e != epoch:
                epoch = e
                perm = torch.randperm(self.length, generator=torch.Generator().manual_seed(
                    self.seed + e))
            yield perm[k * self.batch_size:(k + 1) * self.batch_size].tolist()


class ShardedStepBatchSampler(StepBatchSampler):
    """Rank ``rank``'s share of the global batch of every step.

    The global batch of step ``t`` is :class:`StepBatchSampler`'s (a function of ``seed`` and
    ``t`` only, so resuming works as with one process). It is read as ``groups`` consecutive
    equal parts; rank ``r`` takes elements ``[r * g, (r + 1) * g)`` of each part, with
    ``g = batch_size // (groups * world_size)``, the parts one after the other. With
    ``groups = 1`` that is the ``r``-th contiguous slice of ``batch_size // world_size``.

    Args:
        length, steps, seed, start: as :class:`StepBatchSampler`.
        batch_size: the GLOBAL batch size, a multiple of ``groups * world_size``.
        rank, world_size: this process's place.
        groups: parts of the batch that the step function treats differently (1 or 2).
    """

    def __init__(self, length: int, batch_size: int, steps: int, seed: int = 0,
                 start: int = 0, rank: int = 0, world_size: int = 1, groups: int = 1) -> None:
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank={rank} must lie in [0, world_size={world_size})")
        if groups < 1:
            raise ValueError(f"groups={groups} must be >= 1")
        unit = groups * world_size
        if batch_size % unit:
            lower = max(unit, batch_size // unit * unit)
            what = f"{world_size} processes" if groups == 1 else \
                f"{world_size} processes x {groups} parts per process"
            raise ValueError(
                f"the global batch size {batch_size} cannot be split evenly over {what}: use a "
                f"multiple of {unit} (e.g. --batch-size {lower} or {lower + unit})")
        super().__init__(length, batch_size, steps, seed, start)
        self.rank, self.world_size, self.groups = rank, world_size, groups
        self.local_batch = batch_size // world_size

    def positions(self) -> list[int]:
        """Where each element of this rank's batch sits in the global batch of its step."""
        part = self.batch_size // self.groups           # one part of the global batch
        g = part // self.world_size                      # this rank's share of one part
        lo = self.rank * g
        return [k * part + lo + j for k in range(self.groups) for j in range(g)]

    def __iter__(self) -> Iterator[list[int]]:
        where = self.positions()
        for batch in super().__iter__():
            yield [batch[p] for p in where]

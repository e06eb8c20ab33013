"""The learning-rate schedule of pix2pix: constant, then linear decay to zero.

pix2pix and pix2pixHD (Wang et al. 2018, Sec. 4) train with a constant learning rate for the
first half of training and decay it linearly to zero over the second half. The pix2pix paper
itself states Adam's settings (Isola et al. 2017, Sec. 3.3) but no schedule; the decay is the
default of the authors' code (``--lr_policy linear`` with ``n_epochs`` and ``n_epochs_decay``).
In steps (the course counts iterations, not epochs), with ``T`` total steps and decay starting
at step ``S`` (default ``T // 2``), the multiplier applied to the base rate before step ``t``
(0-based) is::

    m(t) = 1                          for t < S
    m(t) = 1 - (t - S) / (T - S)      for S <= t <= T

so the first decayed step uses ``1 - 0 = 1`` and the rate would reach exactly zero after the
last step. (The original code divides by ``n_epochs_decay + 1`` instead of ``n_epochs_decay``,
so its rate never reaches zero -- a common source of confusion; this course uses the formula
above and says so.)
"""
from __future__ import annotations

import torch

__all__ = ["linear_decay_multiplier", "linear_decay_scheduler"]


def linear_decay_multiplier(step: int, total_steps: int, decay_start: int | None = None) -> float:
    """The multiplier ``m(t)`` of the module docstring for 0-based ``step``."""
    if total_steps <= 0:
        raise ValueError(f"total_steps must be positive, got {total_steps}")
    start = total_steps // 2 if decay_start is None else decay_start
    if not 0 <= start <= total_steps:
        raise ValueError(f"decay_start={start} must lie in [0, total_steps={total_steps}]")
    if step < start:
        return 1.0
    if total_steps == start:
        return 0.0
    return max(0.0, 1.0 - (step - start) / (total_steps - start))


def linear_decay_scheduler(optimizer: torch.optim.Optimizer, total_steps: int,
                           decay_start: int | None = None) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` that applies :func:`linear_decay_multiplier`; call ``.step()`` once per
    training step, after ``optimizer.step()``."""
    linear_decay_multiplier(0, total_steps, decay_start)  # validate the arguments now
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda t: linear_decay_multiplier(t, total_steps, decay_start))

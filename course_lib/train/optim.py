"""Adam, fused where PyTorch can: the optimizer of pix2pix (Isola et al. 2017, Sec. 3.3:
lr 2e-4, betas (0.5, 0.999)), pix2pixHD and BicycleGAN.

``torch.optim.Adam(..., fused=True)`` updates all of an optimizer's parameters in one kernel
instead of a handful of small operations per tensor: the same update to rounding, faster when a
network has many small tensors (the cpu profile's bf16 setting turns it on,
:mod:`course_lib.profiles`). Where the device or the parameters' dtype has no fused kernel
(an old PyTorch, an unusual device), :func:`adam` falls back to the plain loop.

A fused and a plain Adam have the same state (``exp_avg``, ``exp_avg_sq``, ``step``), so
their checkpoints load into each other; :func:`keep_implementation` keeps an optimizer's
own choice when it loads one written by the other.
"""
from __future__ import annotations

from typing import Any, Iterable

import torch

__all__ = ["adam", "keep_implementation"]

_IMPLEMENTATION_KEYS = ("fused", "foreach")


def adam(params: Iterable[Any], lr: float, betas: tuple[float, float],
         fused: bool = False) -> torch.optim.Adam:
    """``torch.optim.Adam(params, lr, betas)``, fused if asked and supported."""
    params = list(params)
    if fused:
        try:
            return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
        except (RuntimeError, TypeError, ValueError):   # no fused kernel for these tensors
            pass
    return torch.optim.Adam(params, lr=lr, betas=betas)


def keep_implementation(opt: torch.optim.Optimizer, state: Any) -> None:
    """``opt.load_state_dict(state)``, keeping ``opt``'s fused/foreach choice.

    ``Optimizer.load_state_dict`` copies every key of the saved parameter groups, the
    implementation flags included: a checkpoint of a fused Adam would make a plain one fused
    (and the reverse). The moments and step counts are the same in both, so only the flags are
    put back.
    """
    flags = [{k: g[k] for k in _IMPLEMENTATION_KEYS if k in g} for g in opt.param_groups]
    opt.load_state_dict(state)
    for group, kept in zip(opt.param_groups, flags):
        group.update(kept)

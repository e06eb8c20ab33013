"""Paired random jitter: the augmentation pix2pix trains with.

pix2pix (Isola et al. 2017, Sec. 6.2, "Training details") resizes each 256x256 pair to
286x286, takes a random 256x256 crop and flips it left-right at random. For a *paired*
dataset the input and the target must receive the same crop and the same flip, or the
pixel correspondence that the L1 term (Eq. 3) and the conditional discriminator rely on is
destroyed. This module draws the random parameters once and applies them to both images.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["JitterParams", "sample_jitter", "apply_jitter", "paired_jitter", "resize"]


@dataclass(frozen=True)
class JitterParams:
    """One draw of the jitter: crop offset in the resized image and whether to flip."""

    top: int
    left: int
    flip: bool


def _size2(size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    h, w = size
    return int(h), int(w)


def resize(x: torch.Tensor, size: int | tuple[int, int], nearest: bool = False) -> torch.Tensor:
    """Resize a ``(C, H, W)`` image (bicubic, clamped) or a label map (nearest neighbour).

    Label maps (integer tensors, or ``nearest=True``) must never be interpolated: a value
    half-way between class 2 and class 4 is not class 3.
    """
    h, w = _size2(size)
    if x.shape[-2:] == (h, w):
        return x
    squeeze = x.dim() == 2
    y = x[None] if squeeze else x
    if nearest or not torch.is_floating_point(x):
        dtype = y.dtype
        y = F.interpolate(y[None].float(), size=(h, w), mode="nearest-exact")[0].to(dtype)
    else:
        lo, hi = float(y.min()), float(y.max())
        y = F.interpolate(y[None], size=(h, w), mode="bicubic", align_corners=False)[0]
        y = y.clamp(lo, hi)  # bicubic overshoots; keep the input's range
    return y[0] if squeeze else y


def sample_jitter(load_size: int | tuple[int, int], crop_size: int | tuple[int, int],
                  flip: bool = True, generator: torch.Generator | None = None) -> JitterParams:
    """Draw a crop offset (uniform over all valid positions) and a coin-flip mirror."""
    lh, lw = _size2(load_size)
    ch, cw = _size2(crop_size)
    if ch > lh or cw > lw:
        raise ValueError(
            f"crop size {ch}x{cw} is larger than the load size {lh}x{lw}: the crop must fit "
            "inside the resized image (pix2pix uses load 286, crop 256)"
        )
    top = int(torch.randint(0, lh - ch + 1, (1,), generator=generator))
    left = int(torch.randint(0, lw - cw + 1, (1,), generator=generator))
    mirror = bool(torch.rand(1, generator=generator) < 0.5) if flip else False
    return JitterParams(top=top, left=left, flip=mirror)


def apply_jitter(x: torch.Tensor, params: JitterParams, load_size: int | tuple[int, int],
                 crop_size: int | tuple[int, int], nearest: bool = False) -> torch.Tensor:
    """Resize ``x`` to ``load_size``, crop at ``params`` and flip if asked."""
    ch, cw = _size2(crop_size)
    y = resize(x, load_size, nearest=nearest)
    y = y[..., params.top:params.top + ch, params.left:params.left + cw]
    if params.flip:
        y = y.flip(-1)
    return y


def paired_jitter(a: torch.Tensor, b: torch.Tensor, load_size: int | tuple[int, int],
                  crop_size: int | tuple[int, int], generator: torch.Generator | None = None,
                  flip: bool = True, nearest_a: bool = False,
                  nearest_b: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Jitter an input/target pair with one shared draw of crop and flip.

    Args:
        a, b: ``(C, H, W)`` images (or ``(H, W)`` label maps) of the same height and width.
        load_size: size both are resized to first (286 in the paper).
        crop_size: size of the random crop (256 in the paper).
        generator: source of randomness, for reproducible augmentation.
        flip: allow the random left-right mirror.
        nearest_a, nearest_b: resize that side with nearest neighbour (label maps).

    Returns:
        The jittered ``(a, b)``, each ``crop_size`` in height and width.
    """
    if a.shape[-2:] != b.shape[-2:]:
        raise ValueError(
            f"input and target differ in size ({tuple(a.shape[-2:])} vs {tuple(b.shape[-2:])}): "
            "a paired example must have pixel-aligned images"
        )
    params = sample_jitter(load_size, crop_size, flip=flip, generator=generator)
    return (apply_jitter(a, params, load_size, crop_size, nearest=nearest_a),
            apply_jitter(b, params, load_size, crop_size, nearest=nearest_b))

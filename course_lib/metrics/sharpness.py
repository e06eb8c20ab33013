"""Sharpness: high-frequency energy of generated images relative to real ones.

pix2pix (Isola et al., CVPR 2017), Sec. 3.1 and Fig. 4: trained with an L1 (or L2) loss
alone, a generator blurs, because averaging over the plausible outputs removes the high
frequencies; adding the conditional GAN term restores them. The paper shows this
qualitatively (Fig. 4) and through its colour histograms (Fig. 7); the course measures it
directly.

The measure is the energy of the discrete Laplacian, the mean of ``(lap * x)^2`` with the
5-point kernel ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]`` applied to each RGB channel, of the
generated images divided by that of their real targets::

    ratio = E[(lap * fake)^2] / E[(lap * real)^2]        (1.0 = as sharp as real)

Over the whole image the ratio is dominated by class boundaries (edges between wall and
window are sharp in every output) and is noisy from run to run. Inside class regions, away
from their boundaries, only texture remains, which is what L1 blurs and the cGAN restores.
:func:`interior_mask` erodes every class region of the class map by ``margin`` pixels (and
keeps ``margin`` pixels off the image border) so that :func:`sharpness_ratio` can measure
there, optionally only inside given classes such as the facades' ``"facade"`` (wall).

A ratio above 1 means more high-frequency energy than real: noise or checkerboard
artifacts, not extra realism.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from course_lib.metrics._checks import (
    check_class_maps,
    check_images,
    check_same_shape,
    resolve_classes,
)

__all__ = ["laplacian", "interior_mask", "high_frequency_energy", "sharpness_ratio",
           "sharpness_per_class"]

_LAPLACE = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def laplacian(images: torch.Tensor) -> torch.Tensor:
    """5-point Laplacian of each channel, (N, C, H, W) -> (N, C, H, W).

    Borders are replicate-padded; :func:`interior_mask` keeps measurements off them anyway.
    """
    x = check_images(images, "images", channels=None)
    c = x.shape[1]
    kernel = _LAPLACE.to(x.device, x.dtype).expand(c, 1, 3, 3)
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, groups=c)


def _check_margin(margin: Any) -> int:
    if isinstance(margin, bool) or not isinstance(margin, int) or margin < 0:
        raise ValueError(f"margin must be an int >= 0 (pixels), got {margin!r}")
    return margin


def interior_mask(class_map: torch.Tensor, margin: int = 2,
                  classes: Sequence[int | str] | int | str | None = None,
                  class_names: Sequence[str] | None = None) -> torch.Tensor:
    """Pixels at least ``margin`` pixels away from any class boundary and the image border.

    Each class region is eroded by a (2 margin + 1)-square, so a pixel is kept when its whole
    neighbourhood has its class. With ``margin >= 1`` the Laplacian's 3x3 support of every
    kept pixel lies inside one region.

    Args:
        class_map: int (N, H, W) or (H, W).
        margin: erosion radius in pixels (0 keeps every pixel).
        classes: only keep pixels of these classes (ids, or names with ``class_names``).
        class_names: the dataset's class names, to resolve names in ``classes``.

    Returns:
        bool mask of the same shape as ``class_map``.
    """
    margin = _check_margin(margin)
    m = check_class_maps(class_map, "class_map")
    ids = resolve_classes(classes, class_names)
    if margin == 0:
        keep = torch.ones_like(m, dtype=torch.bool)
    else:
        k = 2 * margin + 1
        # A pixel is interior when the min and the max class in its window agree; the
        # border is padded with -1, a value no class takes, so it is never interior.
        padded = F.pad(m[:, None].float(), (margin,) * 4, value=-1.0)
        hi = F.max_pool2d(padded, k, stride=1)
        lo = -F.max_pool2d(-padded, k, stride=1)
        keep = (hi == lo)[:, 0]
    if ids is not None:
        keep &= torch.isin(m, torch.tensor(ids, device=m.device))
    return keep if class_map.dim() == 3 else keep[0]


def high_frequency_energy(images: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared Laplacian of each image, over ``mask`` (N, H, W) if given: (N,) tensor.

    Images whose mask is empty get NaN.
    """
    x = check_images(images, "images", channels=None)
    e = laplacian(x).square().mean(1)  # (N, H, W)
    if mask is None:
        return e.mean((1, 2))
    m = _check_mask(mask, x)
    w = m.float()
    n = w.sum((1, 2))
    return torch.where(n > 0, (e * w).sum((1, 2)) / n.clamp(min=1),
                       torch.full_like(n, float("nan")))


def _check_mask(mask: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise ValueError("mask must be a bool tensor (N, H, W) or (H, W)")
    m = mask[None] if mask.dim() == 2 else mask
    if m.dim() != 3 or tuple(m.shape[-2:]) != tuple(x.shape[-2:]) or \
            m.shape[0] not in (1, x.shape[0]):
        raise ValueError(f"mask of shape {tuple(mask.shape)} does not fit images of shape "
                         f"{tuple(x.shape)}")
    return m.expand(x.shape[0], -1, -1).to(x.device)


def sharpness_ratio(fake: torch.Tensor, real: torch.Tensor, class_map: torch.Tensor | None = None,
                    classes: Sequence[int | str] | int | str | None = None, margin: int = 2,
                    class_names: Sequence[str] | None = None) -> float:
    """High-frequency energy of ``fake`` over that of ``real`` (1.0 = as sharp as real).

    Without ``class_map`` the whole image is measured. With it, only pixels inside class
    regions and ``margin`` pixels away from every boundary (see :func:`interior_mask`),
    optionally only in ``classes``. The energies are pooled over all images before the
    division, so images with little texture weigh less than in a mean of per-image ratios.

    Args:
        fake: generated images (N, 3, H, W) or (3, H, W) in [-1, 1].
        real: the real targets, same shape, pixel-aligned with ``fake``.
        class_map: int (N, H, W) or (H, W), the class map the images depict.
        classes: class ids, or names with ``class_names`` (e.g. ``["facade"]``).
        margin: pixels to stay away from boundaries (only with ``class_map``).
        class_names: the dataset's class names.
    """
    f = check_images(fake, "fake")
    r = check_images(real, "real")
    check_same_shape(f, r, "fake", "real")
    if class_map is None:
        if classes is not None:
            raise ValueError("classes needs a class_map to find the class regions")
        mask = None
    else:
        cm = check_class_maps(class_map, "class_map", size=tuple(f.shape[-2:]), batch=f.shape[0])
        mask = interior_mask(cm, margin, classes, class_names)
        if not mask.any():
            raise ValueError(f"no pixel of classes={classes!r} lies {margin} px away from a "
                             f"boundary; use a smaller margin or other classes")
    ef = _pooled_energy(f, mask)
    er = _pooled_energy(r, mask)
    if er <= 0:
        raise ValueError("the real images have no high-frequency energy in the measured "
                         "region (flat colour), so the ratio is undefined")
    return float(ef / er)


def _pooled_energy(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    e = laplacian(x).square().mean(1)  # (N, H, W)
    return e.mean() if mask is None else e[mask.to(e.device)].mean()


def sharpness_per_class(fake: torch.Tensor, real: torch.Tensor, class_map: torch.Tensor,
                        margin: int = 2,
                        class_names: Sequence[str] | None = None) -> dict[str | int, float]:
    """:func:`sharpness_ratio` inside each class that has interior pixels.

    Returns ``{class name (or id): ratio}``; classes with no interior pixel or no real
    texture are left out.
    """
    f = check_images(fake, "fake")
    r = check_images(real, "real")
    check_same_shape(f, r, "fake", "real")
    cm = check_class_maps(class_map, "class_map", size=tuple(f.shape[-2:]), batch=f.shape[0])
    inside = interior_mask(cm, margin)
    ef = laplacian(f).square().mean(1)
    er = laplacian(r).square().mean(1)
    out: dict[str | int, float] = {}
    for c in cm[inside].unique().tolist():
        m = inside & (cm == c)
        real_energy = er[m].mean()
        if real_energy > 0:
            key: str | int = class_names[c] if class_names is not None and c < len(class_names) \
                else c
            out[key] = float(ef[m].mean() / real_energy)
    return out

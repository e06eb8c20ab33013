"""Colour distribution of generated images in Lab space, against the real ones.

pix2pix (Isola et al., CVPR 2017), Sec. 4, the "Colorfulness" analysis of the objective
(Fig. 7): where the right colour is uncertain, an L1 loss is minimised by a dull average
colour, so the marginal distributions of L, a and b over the outputs are narrower than the
real ones; the cGAN term widens them back. The paper compares the marginal histograms by
their histogram intersection with the ground truth.

This module provides:

* :func:`rgb_to_lab`, sRGB (D65) -> CIE L*a*b*, written out in torch: undo the sRGB gamma,
  a 3x3 matrix to XYZ, divide by the D65 white point, the cube-root response ``f``, then
  ``L = 116 f(Y) - 16``, ``a = 500 (f(X) - f(Y))``, ``b = 200 (f(Y) - f(Z))``.
* :func:`lab_histograms` and :func:`color_distribution`: marginal histograms of L, a, b (over
  whole images or inside given class regions), their intersection ``sum_k min(p_k, q_k)``
  (1 = identical) and ``KL(real || fake)`` per channel.
* :func:`color_spread` and :func:`color_spread_ratio`: how much the mean colour of a class
  region varies from image to image. A wall is a different colour in every real photo;
  an L1-trained generator paints every wall the same average colour, so the ratio
  ``spread(fake) / spread(real)`` drops below 1.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from course_lib.metrics._checks import (
    check_class_maps,
    check_images,
    check_same_shape,
    to_unit,
)
from course_lib.metrics.sharpness import interior_mask

__all__ = ["rgb_to_lab", "LAB_RANGES", "lab_histograms", "histogram_intersection",
           "kl_divergence", "ColorDistribution", "color_distribution", "region_mean_colors",
           "color_spread", "color_spread_ratio"]

# sRGB primaries to CIE XYZ (D65), IEC 61966-2-1.
_RGB_TO_XYZ = torch.tensor([
    [0.4124564, 0.3575761, 0.1804375],
    [0.2126729, 0.7151522, 0.0721750],
    [0.0193339, 0.1191920, 0.9503041],
])
_WHITE_D65 = torch.tensor([0.95047, 1.00000, 1.08883])
_DELTA = 6.0 / 29.0

#: Histogram range of each Lab channel; covers the whole sRGB gamut.
LAB_RANGES: tuple[tuple[float, float], ...] = ((0.0, 100.0), (-110.0, 110.0), (-110.0, 110.0))
CHANNELS = ("L", "a", "b")
KL_SMOOTHING = 1e-4  # probability added to every bin before KL, so empty bins stay finite


def rgb_to_lab(images: torch.Tensor) -> torch.Tensor:
    """sRGB images in [-1, 1] to CIE L*a*b* (D65): (..., 3, H, W) -> (..., 3, H, W).

    L lies in [0, 100]; a and b roughly in [-110, 110]. White (1, 1, 1) maps to
    (100, 0, 0), black to (0, 0, 0), pure red to about (53.24, 80.09, 67.20).
    """
    if not isinstance(images, torch.Tensor) or not images.is_floating_point() or \
            images.dim() < 3 or images.shape[-3] != 3:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images must be a float tensor (..., 3, H, W) in [-1, 1], got {shape}")
    x = check_images(images.reshape(-1, *images.shape[-3:]), "images")
    rgb = to_unit(x)
    linear = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055).pow(2.4))
    m = _RGB_TO_XYZ.to(x.device, x.dtype)
    xyz = torch.einsum("ij,njhw->nihw", m, linear)
    xyz = xyz / _WHITE_D65.to(x.device, x.dtype)[None, :, None, None]
    f = torch.where(xyz > _DELTA**3, xyz.clamp(min=_DELTA**3).pow(1.0 / 3.0),
                    xyz / (3 * _DELTA**2) + 4.0 / 29.0)
    fx, fy, fz = f.unbind(1)
    lab = torch.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], 1)
    return lab.reshape(images.shape)


def _check_bins(bins: object) -> int:
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise ValueError(f"bins must be an int >= 2, got {bins!r}")
    return bins


def lab_histograms(images: torch.Tensor, bins: int = 64,
                   mask: torch.Tensor | None = None) -> torch.Tensor:
    """Normalised marginal histograms of L, a, b over all pixels (inside ``mask``): (3, bins).

    Args:
        images: (N, 3, H, W) or (3, H, W) in [-1, 1].
        bins: bins per channel over :data:`LAB_RANGES`.
        mask: optional bool (N, H, W) or (H, W) of the pixels to count.
    """
    bins = _check_bins(bins)
    x = check_images(images, "images")
    lab = rgb_to_lab(x)  # (N, 3, H, W)
    values = lab.permute(1, 0, 2, 3).reshape(3, -1)  # (3, N*H*W)
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            raise ValueError("mask must be a bool tensor (N, H, W) or (H, W)")
        m = mask if mask.dim() == 3 else mask[None]
        if tuple(m.shape[-2:]) != tuple(x.shape[-2:]) or m.shape[0] not in (1, x.shape[0]):
            raise ValueError(f"mask of shape {tuple(mask.shape)} does not fit images of shape "
                             f"{tuple(x.shape)}")
        values = values[:, m.expand(x.shape[0], -1, -1).reshape(-1).to(values.device)]
    if values.shape[1] == 0:
        raise ValueError("mask selects no pixel; nothing to histogram")
    hists = []
    for c, (lo, hi) in enumerate(LAB_RANGES):
        h = torch.histc(values[c].clamp(lo, hi), bins=bins, min=lo, max=hi)
        hists.append(h / h.sum())
    return torch.stack(hists)


def histogram_intersection(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """``sum_k min(p_k, q_k)`` over the last dim of normalised histograms (1 = identical)."""
    return torch.minimum(p, q).sum(-1)


def kl_divergence(p: torch.Tensor, q: torch.Tensor, smoothing: float = KL_SMOOTHING) -> torch.Tensor:
    """``KL(p || q)`` in nats over the last dim, after adding ``smoothing`` to every bin."""
    p = (p + smoothing) / (p + smoothing).sum(-1, keepdim=True)
    q = (q + smoothing) / (q + smoothing).sum(-1, keepdim=True)
    return (p * (p / q).log()).sum(-1)


@dataclass(frozen=True)
class ColorDistribution:
    """Lab marginals of fake vs real (pix2pix Sec. 4, "Colorfulness", Fig. 7).

    Attributes:
        intersection: histogram intersection per channel (L, a, b); 1 = same distribution.
        kl: ``KL(real || fake)`` per channel, in nats; 0 = same distribution.
        hist_fake, hist_real: (3, bins) normalised histograms.
        edges: (3, bins + 1) bin edges of each channel, for plotting.
    """

    intersection: tuple[float, float, float]
    kl: tuple[float, float, float]
    hist_fake: torch.Tensor
    hist_real: torch.Tensor
    edges: torch.Tensor

    def as_dict(self) -> dict[str, float]:
        """``{"L_intersection": ..., "a_kl": ..., ...}`` for tables."""
        out = {}
        for i, ch in enumerate(CHANNELS):
            out[f"{ch}_intersection"] = self.intersection[i]
            out[f"{ch}_kl"] = self.kl[i]
        return out


def _region_mask(class_map: torch.Tensor | None, classes: Sequence[int | str] | int | str | None,
                 class_names: Sequence[str] | None, margin: int, x: torch.Tensor
                 ) -> torch.Tensor | None:
    if class_map is None:
        if classes is not None:
            raise ValueError("classes needs a class_map to find the class regions")
        return None
    cm = check_class_maps(class_map, "class_map", size=tuple(x.shape[-2:]), batch=x.shape[0])
    return interior_mask(cm, margin, classes, class_names)


def color_distribution(fake: torch.Tensor, real: torch.Tensor, bins: int = 64,
                       class_map: torch.Tensor | None = None,
                       classes: Sequence[int | str] | int | str | None = None,
                       class_names: Sequence[str] | None = None) -> ColorDistribution:
    """Compare the Lab marginal histograms of ``fake`` and ``real`` images.

    Args:
        fake, real: (N, 3, H, W) in [-1, 1]; the same N is not required, the same H, W is
            when ``class_map`` is given (then fake and real must be pixel-aligned pairs).
        bins: histogram bins per channel.
        class_map: optional int (N, H, W) or (H, W): count only pixels of ``classes``.
        classes: class ids, or names with ``class_names``.
        class_names: the dataset's class names.
    """
    f = check_images(fake, "fake")
    r = check_images(real, "real")
    mask = None
    if class_map is not None or classes is not None:
        check_same_shape(f, r, "fake", "real")
        mask = _region_mask(class_map, classes, class_names, 0, f)
    hf = lab_histograms(f, bins, mask)
    hr = lab_histograms(r, bins, mask)
    edges = torch.stack([torch.linspace(lo, hi, bins + 1) for lo, hi in LAB_RANGES])
    inter = histogram_intersection(hf, hr)
    kl = kl_divergence(hr, hf)
    return ColorDistribution(tuple(inter.tolist()), tuple(kl.tolist()), hf, hr, edges)


def region_mean_colors(images: torch.Tensor, class_map: torch.Tensor | None = None,
                       classes: Sequence[int | str] | int | str | None = None,
                       class_names: Sequence[str] | None = None,
                       margin: int = 0) -> torch.Tensor:
    """Mean Lab colour of each image inside the region: (N, 3), NaN rows where it is empty."""
    x = check_images(images, "images")
    lab = rgb_to_lab(x)
    mask = _region_mask(class_map, classes, class_names, margin, x)
    if mask is None:
        return lab.mean((2, 3))
    w = mask.float()[:, None].to(lab.device)  # (N, 1, H, W)
    n = w.sum((2, 3))
    return torch.where(n > 0, (lab * w).sum((2, 3)) / n.clamp(min=1),
                       torch.full_like(n, float("nan")).expand(-1, 3))


def color_spread(images: torch.Tensor, class_map: torch.Tensor | None = None,
                 classes: Sequence[int | str] | int | str | None = None,
                 class_names: Sequence[str] | None = None, margin: int = 0) -> float:
    """Spread of the per-image mean Lab colour of a region: RMS distance to its average.

    ``sqrt(mean_i ||m_i - mean_j m_j||^2)`` over the images whose region is not empty, in
    Lab units (a Delta-E-like distance). Needs at least two such images.
    """
    means = region_mean_colors(images, class_map, classes, class_names, margin)
    return _spread(means)


def _spread(means: torch.Tensor) -> float:
    means = means[~means.isnan().any(1)]
    if means.shape[0] < 2:
        raise ValueError(f"the region is present in {means.shape[0]} image(s); the spread needs "
                         f"at least 2")
    return float((means - means.mean(0)).square().sum(1).mean().sqrt())


def color_spread_ratio(fake: torch.Tensor, real: torch.Tensor,
                       class_map: torch.Tensor | None = None,
                       classes: Sequence[int | str] | int | str | None = None,
                       class_names: Sequence[str] | None = None, margin: int = 0) -> float:
    """``color_spread(fake) / color_spread(real)`` over the same regions (1.0 = as varied as real).

    Args:
        fake, real: pixel-aligned (N, 3, H, W) in [-1, 1].
        class_map: int (N, H, W); the region is the pixels of ``classes`` (eroded by
            ``margin``); without it, whole images.
        classes: class ids, or names with ``class_names`` (e.g. ``"facade"``, the wall).
        class_names: the dataset's class names.
        margin: pixels to stay away from the region's boundary.
    """
    f = check_images(fake, "fake")
    r = check_images(real, "real")
    check_same_shape(f, r, "fake", "real")
    real_spread = color_spread(r, class_map, classes, class_names, margin)
    if real_spread == 0:
        raise ValueError("the real images all have the same mean colour in the region; the "
                         "ratio is undefined")
    return color_spread(f, class_map, classes, class_names, margin) / real_spread

"""Boundary accuracy: are touching objects of one class kept apart in the generated image?

pix2pixHD (Wang et al., CVPR 2018), Sec. 3.3 and Fig. 5: without the instance boundary map,
two cars parked bumper to bumper are one "car" blob in the label map and the generator paints
them as one object; with it, "adjacent cars have sharper boundaries". The paper shows this
qualitatively; the course measures it.

Two instances **touch** when some pixel of one has a 4-neighbour in the other. A touching
pair is *same-class* (two cars) or *class* (a car and the road: the label map alone already
separates these). For each pair the metric takes the **band** of each instance along their
shared boundary (its pixels within ``band`` pixels of the other instance) and looks for two
kinds of boundary in an image:

* a **step**: the two objects differ in colour. With the mean colours of the two bands,
  ``step = mean over RGB of | mean_{band of i} - mean_{band of j} |``;
* a **seam**: a line along the boundary (a dark gap between two parked cars) that sets the
  pixels next to the other object, the **rim**, apart from the rest of the band, the
  **flank**. On each side the signed difference ``mean_{flank} - mean_{rim}`` is taken, the
  two sides are averaged and ``seam = mean over RGB of | that |``.

Averaging over the bands makes both tolerant of a boundary drawn a pixel off or slightly
soft; a generator that paints two touching cars as one blob has about equal means
everywhere. A step or a seam **counts** only when it exceeds ``threshold`` by ``z`` (2)
standard errors (from the pixels' own variance): noise and texture make the means uncertain
and cannot pass for a boundary, a clean colour change or line can. A pair's boundary counts
when its step or its seam does. Only pairs whose boundary counts **in the real photo** and
who share at least ``min_contact`` neighbour pairs are scored: two touching objects that look
alike in the photo have no boundary to reproduce. Then:

* ``accuracy`` -- the fraction of those same-class pairs whose boundary also counts in the
  generated image: the two objects are told apart;
* ``contrast`` -- mean generated boundary strength (the larger of step and seam) over the
  mean real one for those pairs (1 = as distinct as in the photo, 0 = merged; unlike the
  accuracy, noise raises it);
* ``class_accuracy`` / ``class_contrast`` -- the same for pairs of different classes, a
  control: the boundary map should change little there.

The default ``threshold`` of 0.1 (5 % of the [-1, 1] range) lies below the colour difference
of most touching cars of the streets dataset and below the dark crease drawn along every
car's outline there (:mod:`course_lib.data.streets`). The real photos' own score is 1 by
construction; a label-map "blob" with each class's mean colour scores 0. The numbers are
the course's own and are comparable within the course only.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from course_lib.metrics._checks import check_images, check_same_shape

__all__ = ["BoundaryScore", "boundary_accuracy", "instance_crossings", "seam_depth",
           "touching_pairs"]

THING_OFFSET = 1000


@dataclass(frozen=True)
class BoundaryScore:
    """What :func:`boundary_accuracy` measured (see the module docstring)."""

    accuracy: float
    contrast: float
    class_accuracy: float
    class_contrast: float
    count: int
    class_count: int
    threshold: float

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}

    def __str__(self) -> str:
        return (f"touching same-class objects: accuracy {self.accuracy:.3f}, contrast "
                f"{self.contrast:.2f} ({self.count} pairs) | class boundaries: accuracy "
                f"{self.class_accuracy:.3f}, contrast {self.class_contrast:.2f} "
                f"({self.class_count})")


def _classes(instance_map: torch.Tensor) -> torch.Tensor:
    return torch.where(instance_map >= THING_OFFSET, instance_map // THING_OFFSET, instance_map)


def instance_crossings(instance_map: torch.Tensor, class_map: torch.Tensor | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every pair of 4-neighbours with different instance ids.

    Args:
        instance_map: ids ``(N, H, W)`` (things ``class * 1000 + k``, stuff the class id).
        class_map: class ids ``(N, H, W)``; default derived from the ids.

    Returns:
        ``(p, q, same)``: flat indices into ``N*H*W`` of the two pixels of every crossing, and
        a bool tensor, True for same-class crossings.
    """
    m = instance_map.long()
    if m.dim() != 3:
        raise ValueError(f"instance_map must be (N, H, W), got {tuple(instance_map.shape)}")
    cls = _classes(m) if class_map is None else class_map.long()
    if cls.shape != m.shape:
        raise ValueError(f"class_map {tuple(cls.shape)} and instance_map {tuple(m.shape)} differ")
    n, h, w = m.shape
    idx = torch.arange(n * h * w, device=m.device).view(n, h, w)
    ps, qs, sames = [], [], []
    for a, b in ((np.s_[:, :, :-1], np.s_[:, :, 1:]), (np.s_[:, :-1, :], np.s_[:, 1:, :])):
        differ = m[a] != m[b]
        ps.append(idx[a][differ])
        qs.append(idx[b][differ])
        sames.append((cls[a] == cls[b])[differ])
    return torch.cat(ps), torch.cat(qs), torch.cat(sames)


def touching_pairs(instance_map: torch.Tensor, class_map: torch.Tensor | None = None,
                   min_contact: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairs of touching instances: ``(pairs (P, 3) = [image, id_a, id_b] with id_a < id_b,
    same (P,) bool)``, keeping pairs with at least ``min_contact`` 4-neighbour contacts."""
    m = instance_map.long()
    p, q, same = instance_crossings(m, class_map)
    if len(p) == 0:
        return torch.zeros(0, 3, dtype=torch.long), torch.zeros(0, dtype=torch.bool)
    flat = m.reshape(-1)
    hw = m.shape[1] * m.shape[2]
    a, b = torch.minimum(flat[p], flat[q]), torch.maximum(flat[p], flat[q])
    keys = torch.stack([p // hw, a, b], 1)
    pairs, inverse, counts = torch.unique(keys, dim=0, return_inverse=True, return_counts=True)
    same_pair = torch.zeros(len(pairs), dtype=torch.bool, device=same.device)
    same_pair[inverse] = same
    keep = counts >= min_contact
    return pairs[keep], same_pair[keep]


def _moments(x: torch.Tensor, masks: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean ``(P, C)``, variance ``(P, C)`` and pixel count ``(P, 1)`` of the image ``x``
    ``(C, H, W)`` over each of the ``P`` masks ``(P, H, W)`` (zeros where a mask is empty)."""
    n = masks.sum((1, 2))[:, None]
    safe = n.clamp(min=1)
    mean = torch.einsum("phw,chw->pc", masks, x) / safe
    sq = torch.einsum("phw,chw->pc", masks, x * x) / safe
    return mean, (sq - mean ** 2).clamp(min=0), n


def _touching(mask: torch.Tensor) -> torch.Tensor:
    """Pixels with a 4-neighbour in ``mask`` ``(P, H, W)``, or in it."""
    out = mask.clone()
    out[:, 1:] = torch.maximum(out[:, 1:], mask[:, :-1])
    out[:, :-1] = torch.maximum(out[:, :-1], mask[:, 1:])
    out[:, :, 1:] = torch.maximum(out[:, :, 1:], mask[:, :, :-1])
    out[:, :, :-1] = torch.maximum(out[:, :, :-1], mask[:, :, 1:])
    return out


def _band_stats(images: torch.Tensor, instance_map: torch.Tensor, pairs: torch.Tensor,
                band: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """For every pair ``[image, id_a, id_b]`` and every 3-channel image in ``images``:

    * the **step**: mean over channels of ``|mean_a - mean_b|`` over the two bands, and its
      standard error ``sqrt(mean over channels of var_a / n_a + var_b / n_b)``;
    * the **seam**: on each side the difference between the band's outer part (its
      **flank**, 2 to ``band`` pixels from the other instance) and its **rim** (the pixels
      with a 4-neighbour in the other instance); the signed differences of the two sides are
      averaged (a side without a flank is left out), then the mean over channels of the
      absolute value, and its standard error.

    Returns ``(step, step_se, seam, seam_se, signed_seam)``, each ``(P, C / 3)``;
    ``signed_seam`` is the mean over channels of the signed seam (positive: a dark line).
    """
    p, c = len(pairs), images.shape[1]
    step, step_var = images.new_zeros(p, c), images.new_zeros(p, c)
    seam, seam_var = images.new_zeros(p, c), images.new_full((p, c), math.inf)
    k = 2 * band + 1
    for img in torch.unique(pairs[:, 0]).tolist():
        sel = (pairs[:, 0] == img).nonzero().squeeze(1)
        m = instance_map[img]
        in_a = (m[None] == pairs[sel, 1].view(-1, 1, 1)).to(images.dtype)   # (P_b, H, W)
        in_b = (m[None] == pairs[sel, 2].view(-1, 1, 1)).to(images.dtype)
        x = images[img]                                                   # (C, H, W)
        sides = []
        for own, other in ((in_a, in_b), (in_b, in_a)):
            near = F.max_pool2d(other[:, None], k, 1, band)[:, 0]
            rim = own * _touching(other)
            sides.append((_moments(x, own * near), _moments(x, rim),
                          _moments(x, own * near * (1 - _touching(other)))))
        (mean_a, var_a, n_a), _, _ = sides[0]
        (mean_b, var_b, n_b), _, _ = sides[1]
        step[sel] = (mean_a - mean_b).abs()
        step_var[sel] = var_a / n_a.clamp(min=1) + var_b / n_b.clamp(min=1)
        d_sum = torch.zeros_like(mean_a)
        v_sum = torch.zeros_like(mean_a)
        w_sum = torch.zeros_like(n_a)
        for _, (rim_mean, rim_var, rim_n), (fl_mean, fl_var, fl_n) in sides:
            w = ((rim_n > 0) & (fl_n > 0)).to(images.dtype)
            d_sum = d_sum + w * (fl_mean - rim_mean)
            v_sum = v_sum + w * (rim_var / rim_n.clamp(min=1) + fl_var / fl_n.clamp(min=1))
            w_sum = w_sum + w
        ok = (w_sum > 0).squeeze(1)
        seam[sel[ok]] = d_sum[ok] / w_sum[ok]
        seam_var[sel[ok]] = v_sum[ok] / w_sum[ok] ** 2
    g = c // 3

    def per_image(v: torch.Tensor) -> torch.Tensor:
        return v.view(p, g, 3).mean(2)

    return (per_image(step), per_image(step_var).sqrt(), per_image(seam.abs()),
            per_image(seam_var).sqrt(), per_image(seam))


def boundary_accuracy(fake: torch.Tensor, real: torch.Tensor, instance_map: torch.Tensor,
                      class_map: torch.Tensor | None = None, threshold: float = 0.1,
                      band: int = 3, min_contact: int = 3, z: float = 2.0) -> BoundaryScore:
    """Accuracy and contrast at boundaries between touching instances (module docstring).

    Args:
        fake, real: generated and real images ``(N, 3, H, W)`` in [-1, 1].
        instance_map: ids ``(N, H, W)`` pixel-aligned with the images.
        class_map: class ids ``(N, H, W)``; default derived from the instance ids.
        threshold: the colour step or seam (mean absolute RGB difference of the means, in
            [-1, 1] units) that counts as a visible boundary.
        band: width in pixels of the band of each instance along the shared boundary.
        min_contact: pairs touching along fewer 4-neighbour pairs are left out.
        z: a step or seam counts only if it exceeds ``threshold`` by ``z`` standard errors
            of the difference of the means (estimated from the pixels' own variance), so
            that noise or texture cannot pass for a boundary.

    Returns:
        a :class:`BoundaryScore` (counts are pairs of instances); ``nan`` where no pair was
        visible.
    """
    f = check_images(fake, "fake")
    r = check_images(real, "real")
    check_same_shape(f, r, "fake", "real")
    if tuple(instance_map.shape) != (f.shape[0],) + tuple(f.shape[2:]):
        raise ValueError(f"instance_map must be (N, H, W) = {(f.shape[0],) + tuple(f.shape[2:])} "
                         f"matching the images, got {tuple(instance_map.shape)}")
    if threshold <= 0:
        raise ValueError(f"threshold must be positive, got {threshold}")
    if isinstance(band, bool) or not isinstance(band, int) or band < 1:
        raise ValueError(f"band must be an int >= 1 (pixels), got {band!r}")
    m = instance_map.to(f.device).long()
    pairs, same = touching_pairs(m, None if class_map is None else class_map.to(f.device),
                                 min_contact)
    both = torch.cat([f, r], 1)                                       # (N, 6, H, W)
    step, step_se, seam, seam_se, _ = _band_stats(both, m, pairs, band)  # (P, 2): fake, real
    counts = (step - z * step_se > threshold) | (seam - z * seam_se > threshold)
    apart, visible = counts[:, 0], counts[:, 1]
    strength = torch.maximum(step, seam)
    step_f, step_r = strength[:, 0], strength[:, 1]

    def score(sel: torch.Tensor) -> tuple[float, float, int]:
        k = int(sel.sum())
        if k == 0:
            return float("nan"), float("nan"), 0
        acc = float(apart[sel].float().mean())
        contrast = float(step_f[sel].mean() / step_r[sel].mean())
        return acc, contrast, k

    acc, con, cnt = score(visible & same)
    cacc, ccon, ccnt = score(visible & ~same)
    return BoundaryScore(acc, con, cacc, ccon, cnt, ccnt, float(threshold))


def seam_depth(images: torch.Tensor, instance_map: torch.Tensor,
               class_map: torch.Tensor | None = None, band: int = 3,
               min_contact: int = 3) -> float:
    """Mean *signed* seam between touching objects of the same class, in [-1, 1] units.

    For every same-class touching pair (as in :func:`boundary_accuracy`): the flank of each
    band minus its rim, averaged over the two sides and RGB, then over the pairs. Positive
    means the shared boundary is drawn as a dark line (the crease of the streets' photos),
    0 means no line. Unlike :func:`boundary_accuracy` it has no threshold and no per-pair
    verdict: noise has no sign and averages out over the pairs, so a faint but systematic
    crease shows. That makes it the measure of whether a generator *uses* the instance
    boundary map at all (Wang et al. 2018, Sec. 3.3), even before it draws creases that the
    accuracy counts. ``nan`` when no same-class pair touches.
    """
    x = check_images(images, "images")
    if tuple(instance_map.shape) != (x.shape[0],) + tuple(x.shape[2:]):
        raise ValueError(f"instance_map must be (N, H, W) = {(x.shape[0],) + tuple(x.shape[2:])} "
                         f"matching the images, got {tuple(instance_map.shape)}")
    if isinstance(band, bool) or not isinstance(band, int) or band < 1:
        raise ValueError(f"band must be an int >= 1 (pixels), got {band!r}")
    m = instance_map.to(x.device).long()
    pairs, same = touching_pairs(m, None if class_map is None else class_map.to(x.device),
                                 min_contact)
    pairs = pairs[same]
    if len(pairs) == 0:
        return float("nan")
    *_, signed = _band_stats(x, m, pairs, band)                         # (P, 1)
    return float(signed.mean())

"""Seams between touching same-class objects: drawn in the right place, or anywhere?

pix2pixHD (Wang et al., CVPR 2018), Sec. 3.3: the instance boundary map tells G where two
touching objects of one class meet, so it can draw the boundary there. On scenes of rows of
touching blocks parted only by a dark seam (:class:`~course_lib.data.SyntheticBlocks`) this is
measured column by column. Each **row region** is a maximal rectangle of one class whose
pixel rows all cross the same blocks (found from the class and instance maps); its
**column profile** is the brightness (mean of RGB, in [0, 1]) of each column averaged over the
region's inner rows (``inset`` pixels from its top and bottom are left out: the outline).

* **seam depth** at every true seam (the right block starts at column ``x``): the mean of
  the **flank** columns (``flank`` pixels out on both sides, default 2-4 px) minus the mean of
  the **rim** (columns ``x-1`` and ``x``, the 2 px the boundary map marks). The photos' seams
  are about 0.75 deep; 0 means no seam. A **control** takes the same measure at the middle of
  every block, where no seam is: it should stay near 0.
* **seams in the wrong place**: a column is *dark* when its flank (2-4 px out on both sides)
  is brighter than it by ``dark`` (0.25) or more. Runs of dark columns at least ``margin``
  pixels inside a region (away from the outline against the road) are seams drawn by G; one
  within ``tolerance`` pixels of a true seam's rim is in the right place (a **hit**), any other
  is in the **wrong place**. A generator that knows only the semantic map can draw sharp
  seams, but it has to guess their columns; these numbers catch a guess that a picture
  might pass.

The metric is the course's own, made for these scenes (vertical seams in row regions); on
other scenes it measures the vertical seams of whatever rectangles the maps contain.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from course_lib.metrics._checks import check_images

__all__ = ["SeamScore", "seam_score", "row_regions", "block_colour_spread"]

THING_OFFSET = 1000


@dataclass(frozen=True)
class SeamScore:
    """What :func:`seam_score` measured (see the module docstring).

    Attributes:
        depth: mean seam depth at the true seams ([0, 1] brightness units).
        drawn: fraction of true seams at least ``0.15`` deep.
        control: mean "depth" at the middle of every block (no seam there).
        hit_rate: fraction of true seams with a dark column within the tolerance.
        wrong_per_scene: dark-column runs away from every true seam, per scene.
        wrong_fraction: of all dark-column runs, the fraction in the wrong place (``nan``
            when there are none).
        count: true seams measured; scenes: images.
    """

    depth: float
    drawn: float
    control: float
    hit_rate: float
    wrong_per_scene: float
    wrong_fraction: float
    count: int
    scenes: int

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}

    def __str__(self) -> str:
        return (f"seam depth {self.depth:+.3f} ({self.drawn:.0%} of {self.count} seams drawn, "
                f"control {self.control:+.3f}) | hits {self.hit_rate:.0%} | wrong place "
                f"{self.wrong_per_scene:.2f} per scene ({self.wrong_fraction:.0%} of the seams "
                f"drawn)")


def row_regions(class_map: np.ndarray, instance_map: np.ndarray, min_height: int = 5
                ) -> list[tuple[int, int, int, int, tuple[int, ...]]]:
    """Rectangles ``(y0, y1, x0, x1, seams)`` of one thing class (instance id >= 1000) whose
    pixel rows all hold the same run ``[x0, x1)`` of that class with the same instance
    boundaries; ``seams`` are the columns where a new instance starts. Rectangles lower than
    ``min_height`` pixels are left out."""
    h, w = class_map.shape
    open_: dict[tuple[int, int, tuple[int, ...]], int] = {}
    out = []
    for y in range(h + 1):
        runs: set[tuple[int, int, tuple[int, ...]]] = set()
        if y < h:
            c, m = class_map[y], instance_map[y]
            x = 0
            while x < w:
                if m[x] < THING_OFFSET:
                    x += 1
                    continue
                x0 = x
                while x < w and m[x] >= THING_OFFSET and c[x] == c[x0]:
                    x += 1
                seams = tuple(int(s) for s in range(x0 + 1, x) if m[s] != m[s - 1])
                runs.add((x0, x, seams))
        for key in list(open_):
            if key not in runs:
                y0 = open_.pop(key)
                if y - y0 >= min_height:
                    out.append((y0, y, key[0], key[1], key[2]))
        for key in runs:
            open_.setdefault(key, y)
    return out


def _brightness(images: torch.Tensor) -> np.ndarray:
    return ((images.float().clamp(-1, 1) + 1) / 2).mean(1).cpu().numpy()     # (N, H, W)


def _depth(profile: np.ndarray, x: int, rim: tuple[int, int], flank: tuple[int, int]
           ) -> float | None:
    """Flank minus rim of a column profile around column ``x`` (rim ``x+rim[0]..x+rim[1]-1``,
    flank ``flank[0]..flank[1]-1`` px beyond the rim on both sides); None off the edges."""
    a, b = x + rim[0], x + rim[1]
    left = (a - flank[1], a - flank[0] + 1)
    right = (b - 1 + flank[0], b + flank[1])
    if left[0] < 0 or right[1] > len(profile):
        return None
    side = np.concatenate([profile[left[0]:left[1]], profile[right[0]:right[1]]])
    return float(side.mean() - profile[a:b].mean())


def seam_score(images: torch.Tensor, instance_map: torch.Tensor, class_map: torch.Tensor,
               inset: int = 2, flank: tuple[int, int] = (2, 4), dark: float = 0.25,
               margin: int = 3, tolerance: int = 2, drawn: float = 0.15) -> SeamScore:
    """Seam depth at the true seams and seams in the wrong place (module docstring).

    Args:
        images: ``(N, 3, H, W)`` in [-1, 1].
        instance_map, class_map: ``(N, H, W)`` ids, pixel-aligned with the images.
        inset: rows left out at the top and bottom of each region.
        flank: the flank columns, from ``flank[0]`` to ``flank[1]`` px beyond the rim.
        dark: how much darker than its flank a column must be to count as a drawn seam.
        margin: dark columns closer than this to a region's ends are its outline, not seams.
        tolerance: a dark run within this many px of a true seam's rim is a hit.
        drawn: depth from which a true seam counts as drawn.
    """
    x = check_images(images, "images")
    n, _, h, w = x.shape
    for name, m in (("instance_map", instance_map), ("class_map", class_map)):
        if tuple(m.shape) != (n, h, w):
            raise ValueError(f"{name} must be (N, H, W) = {(n, h, w)} matching the images, "
                             f"got {tuple(m.shape)}")
    for name, v in (("inset", inset), ("margin", margin), ("tolerance", tolerance)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"{name} must be an int >= 0, got {v!r}")
    if not (isinstance(flank, tuple) and len(flank) == 2 and 1 <= flank[0] <= flank[1]):
        raise ValueError(f"flank must be a (near, far) pair with 1 <= near <= far, got {flank!r}")
    if dark <= 0:
        raise ValueError(f"dark must be positive, got {dark}")
    b = _brightness(x)
    cm, im = class_map.cpu().numpy(), instance_map.cpu().numpy()
    depths, controls, hits, wrong, runs_total = [], [], [], 0, 0
    for i in range(n):
        for y0, y1, x0, x1, seams in row_regions(cm[i], im[i], min_height=2 * inset + 1):
            profile = b[i, y0 + inset:y1 - inset].mean(0)
            for s in seams:
                d = _depth(profile, s, (-1, 1), flank)
                if d is not None:
                    depths.append(d)
            edges = (x0, *seams, x1)
            for a, c in zip(edges[:-1], edges[1:]):
                d = _depth(profile, (a + c) // 2, (0, 1), flank)
                if d is not None:
                    controls.append(d)
            # dark columns inside the region, away from its outline against the road
            cols = np.arange(x0 + margin, x1 - margin)
            is_dark = np.array([(_depth(profile, int(c), (0, 1), flank) or 0.0) >= dark
                                for c in cols], dtype=bool)
            found = []
            k = 0
            while k < len(cols):
                if is_dark[k]:
                    j = k
                    while j < len(cols) and is_dark[j]:
                        j += 1
                    found.append((int(cols[k]), int(cols[j - 1])))
                    k = j
                else:
                    k += 1
            runs_total += len(found)
            for lo, hi in found:
                if not any(lo - tolerance <= s and hi + tolerance >= s - 1 for s in seams):
                    wrong += 1
            for s in seams:
                hits.append(any(lo - tolerance <= s and hi + tolerance >= s - 1
                                for lo, hi in found))
    depth_arr = np.array(depths) if depths else np.array([np.nan])
    return SeamScore(
        depth=float(depth_arr.mean()), drawn=float((depth_arr >= drawn).mean()),
        control=float(np.mean(controls)) if controls else float("nan"),
        hit_rate=float(np.mean(hits)) if hits else float("nan"),
        wrong_per_scene=wrong / max(1, n),
        wrong_fraction=wrong / runs_total if runs_total else float("nan"),
        count=len(depths), scenes=int(n))


def block_colour_spread(images: torch.Tensor, instance_map: torch.Tensor,
                        class_map: torch.Tensor, inset: int = 3) -> float:
    """Within-scene colour spread of one class: for each scene and block class, the standard
    deviation over its blocks of each block's mean colour (inner pixels, ``inset`` px from
    its sides; [0, 1] units, mean over RGB), averaged over scenes and classes.

    In the blocks' photos every block of a class has the same colour up to a small jitter,
    across the whole scene: structure at the scale of the image that a discriminator seeing
    one patch of a block or two cannot check, and the coarse scales of a multi-scale D
    (Sec. 3.2) can."""
    x = check_images(images, "images")
    rgb = ((x.float().clamp(-1, 1) + 1) / 2).cpu()
    im = instance_map.cpu()
    inner = torch.nn.functional.max_pool2d(
        (im[:, None] != torch.roll(im, 1, -1)[:, None]).float()
        + (im[:, None] != torch.roll(im, 1, -2)[:, None]).float(), 2 * inset + 1, 1, inset
    )[:, 0] == 0                                                                # (N, H, W)
    spreads = []
    for i in range(x.shape[0]):
        cls_of: dict[int, list[torch.Tensor]] = {}
        for k in im[i].unique().tolist():
            if k < THING_OFFSET:
                continue
            mask = (im[i] == k) & inner[i]
            if int(mask.sum()) < 4:
                continue
            cls_of.setdefault(k // THING_OFFSET, []).append(rgb[i][:, mask].mean(1))
        for means in cls_of.values():
            if len(means) >= 2:
                spreads.append(float(torch.stack(means).std(0).mean()))
    return float(np.mean(spreads)) if spreads else float("nan")

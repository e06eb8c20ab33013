"""Shapes: edge map -> filled object, a conditional distribution with exactly K modes.

BicycleGAN (Zhu et al., NeurIPS 2017) starts from the observation that image-to-image
translation is *multimodal*: one input has many plausible outputs (Sec. 1), while pix2pix
with noise learns to ignore its noise and produces a single answer (Isola et al. 2017,
Sec. 3.1; Zhu et al. Sec. 3.1). To measure that, this dataset makes the modes countable.

* Input A: a closed outline (ellipses, regular and irregular polygons, stars, crosses,
  rounded rectangles, smooth blobs; varied size, position and rotation) as black lines on
  white, replicated to 3 channels like the edges2shoes inputs of pix2pix.
* Target B: the same outline on white, its interior filled with one of K (default 6) fill
  modes: clearly distinct colour pairs and patterns. The mode is drawn *independently* of
  the outline, and given the outline and the mode the fill is fully determined (patterns are
  anchored at the shape's centroid), so p(B | A) has exactly K equally likely modes.
* :func:`classify_modes` recovers the mode of any image in closed form: the mean colour and
  the colour spread inside the interior are compared with those of each mode, and an image
  that is close to none of them (a grey mean of all modes, a blurred pattern) gets ``-1``.
  The mode-coverage metric (Zhu et al. Sec. 4, diversity vs realism) is built on it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import torch

from course_lib.data.synthetic import RandomStream, SyntheticPairs, erode, pixel_grid, to_signed

__all__ = ["FillMode", "FILL_MODES", "SOLID_FILL_MODES", "FILL_SETS", "SyntheticShapes", "fill_outline", "mode_statistics",
           "mode_distances", "classify_modes", "DEFAULT_MAX_DISTANCE"]

INPUT_STYLES = ("outline", "silhouette")
SHAPE_KINDS = ("ellipse", "polygon", "irregular", "star", "cross", "rounded_rect", "blob")
_TABLE = 256  # angles at which an outline's radius r(theta) is tabulated


@dataclass(frozen=True)
class FillMode:
    """One way of filling an outline: two colours (RGB in [0, 1]) and a pattern."""

    name: str
    colour: tuple[float, float, float]
    accent: tuple[float, float, float]
    pattern: str  # solid | checker | dots | hstripes | diagonal | rings | vstripes


FILL_MODES: tuple[FillMode, ...] = (
    FillMode("red", (0.86, 0.14, 0.12), (0.86, 0.14, 0.12), "solid"),
    FillMode("yellow-orange checks", (1.00, 0.86, 0.20), (0.95, 0.55, 0.08), "checker"),
    FillMode("green with dots", (0.12, 0.56, 0.20), (0.72, 0.93, 0.48), "dots"),
    FillMode("cyan stripes", (0.05, 0.68, 0.82), (0.70, 0.95, 1.00), "hstripes"),
    FillMode("blue diagonals", (0.18, 0.30, 0.92), (0.06, 0.09, 0.42), "diagonal"),
    FillMode("magenta rings", (0.80, 0.12, 0.62), (1.00, 0.68, 0.90), "rings"),
    FillMode("brown bars", (0.50, 0.30, 0.12), (0.74, 0.56, 0.32), "vstripes"),
    FillMode("violet", (0.48, 0.26, 0.86), (0.48, 0.26, 0.86), "solid"),
)
# Six clearly distinct solid colours (and two spares): the fill is one global property of the
# image, so a generator at 32 px and a few thousand steps can learn to pick one from its code
# (notebook 06 at the cpu profile). The patterned set above asks for texture as well.
SOLID_FILL_MODES: tuple[FillMode, ...] = tuple(
    FillMode(name, rgb, rgb, "solid") for name, rgb in (
        ("red", (0.86, 0.14, 0.12)),
        ("yellow", (0.98, 0.84, 0.16)),
        ("green", (0.16, 0.62, 0.22)),
        ("cyan", (0.12, 0.78, 0.86)),
        ("blue", (0.16, 0.24, 0.90)),
        ("magenta", (0.86, 0.16, 0.72)),
        ("orange", (0.98, 0.52, 0.08)),
        ("brown", (0.50, 0.30, 0.12)),
    ))
FILL_SETS: dict[str, tuple[FillMode, ...]] = {"patterned": FILL_MODES, "solid": SOLID_FILL_MODES}
MAX_MODES = len(FILL_MODES)
assert all(len(v) == MAX_MODES for v in FILL_SETS.values())
DEFAULT_MAX_DISTANCE = 0.15  # in [0, 1] RGB units; see mode_distances


# --------------------------------------------------------------------------- outlines


def _polygon_radius(angles: torch.Tensor, radii: torch.Tensor,
                    theta: torch.Tensor) -> torch.Tensor:
    """Radius r(theta) of a star-shaped polygon whose vertices are at polar ``(angles, radii)``.

    Each ray from the centre at angle theta meets the edge between the two vertices whose
    angles bracket theta; ``t`` solves ``t * d = A + s (B - A)`` (cross product with B - A).
    """
    order = angles.argsort()
    phi, rad = angles[order], radii[order]
    pts = torch.stack([rad * phi.cos(), rad * phi.sin()], -1)  # (n, 2)
    nxt = pts.roll(-1, 0)
    phi_ext = torch.cat([phi, phi[:1] + 2 * math.pi])
    th = torch.where(theta < phi[0], theta + 2 * math.pi, theta)
    k = (torch.searchsorted(phi_ext, th, right=True) - 1).clamp(0, len(phi) - 1)
    a, e = pts[k], nxt[k] - pts[k]  # (M, 2)
    dx, dy = th.cos(), th.sin()
    num = a[:, 0] * e[:, 1] - a[:, 1] * e[:, 0]
    den = dx * e[:, 1] - dy * e[:, 0]
    return num / den


def _outline_table(kind: str, rs: RandomStream) -> torch.Tensor:
    """r(theta) at ``_TABLE`` angles for one random outline of ``kind``, scaled to max 1."""
    theta = torch.arange(_TABLE, dtype=torch.float32) * (2 * math.pi / _TABLE)
    if kind == "ellipse":
        b = rs.uniform(0.5, 1.0)
        r = b / ((b * theta.cos()).square() + theta.sin().square()).sqrt()
    elif kind == "polygon":
        n = rs.integer(3, 8)
        angles = torch.arange(n, dtype=torch.float32) * (2 * math.pi / n)
        r = _polygon_radius(angles, torch.ones(n), theta)
    elif kind == "irregular":
        n = rs.integer(5, 9)
        jitter = torch.tensor([rs.uniform(-0.3, 0.3) for _ in range(n)])
        angles = (torch.arange(n, dtype=torch.float32) + jitter) * (2 * math.pi / n)
        radii = torch.tensor([rs.uniform(0.55, 1.0) for _ in range(n)])
        r = _polygon_radius(angles % (2 * math.pi), radii, theta)
    elif kind == "star":
        n = rs.integer(4, 8)
        inner = rs.uniform(0.4, 0.65)
        angles = torch.arange(2 * n, dtype=torch.float32) * (math.pi / n)
        radii = torch.tensor([1.0, inner] * n)
        r = _polygon_radius(angles, radii, theta)
    elif kind == "cross":
        w = rs.uniform(0.3, 0.5)  # half-width of the arms
        corners = [(1, w), (w, w), (w, 1), (-w, 1), (-w, w), (-1, w),
                   (-1, -w), (-w, -w), (-w, -1), (w, -1), (w, -w), (1, -w)]
        pts = torch.tensor(corners, dtype=torch.float32)
        angles = torch.atan2(pts[:, 1], pts[:, 0]) % (2 * math.pi)
        r = _polygon_radius(angles, pts.norm(dim=1), theta)
    elif kind == "rounded_rect":
        p, b = rs.uniform(3.0, 6.0), rs.uniform(0.5, 1.0)
        r = (theta.cos().abs().pow(p) + (theta.sin().abs() / b).pow(p)).pow(-1.0 / p)
    elif kind == "blob":
        r = torch.ones_like(theta)
        for k in range(2, 6):
            r = r + rs.uniform(0.0, 0.35 / k) * torch.cos(k * theta + rs.uniform(0, 2 * math.pi))
    else:  # pragma: no cover - SHAPE_KINDS is closed
        raise ValueError(f"unknown outline kind {kind!r}")
    return r / r.max()


def _rasterise_outline(table: torch.Tensor, cx: float, cy: float, size: float,
                       rotation: float, height: int, width: int) -> torch.Tensor:
    """Class map (H, W): 0 background, 1 interior, 2 outline, for r(theta) = size * table."""
    ys, xs = pixel_grid(height, width)
    dx, dy = xs - cx, ys - cy  # broadcast to (H, W)
    c, s = math.cos(rotation), math.sin(rotation)
    u, v = dx * c + dy * s, dy * c - dx * s  # coordinates in the shape's own frame
    r = torch.hypot(u, v)
    pos = torch.atan2(v, u).remainder(2 * math.pi) * (_TABLE / (2 * math.pi))
    i0 = pos.floor().long().clamp(0, _TABLE - 1)
    frac = pos - i0
    boundary = size * (table[i0] * (1 - frac) + table[(i0 + 1) % _TABLE] * frac)
    inside = r <= boundary
    thickness = max(1, round(height / 40))  # line width in pixels: 2 px at 64, 6 px at 256
    outline = inside & ~erode(inside, thickness)
    class_map = inside.long()
    class_map[outline] = 2
    return class_map


# --------------------------------------------------------------------------- fills


def _pattern(pattern: str, dx: torch.Tensor, dy: torch.Tensor, period: float) -> torch.Tensor:
    """1 where a pattern shows its main colour, 0 where it shows its accent."""
    half = period / 2
    if pattern == "solid":
        return torch.ones_like(dx + dy)
    if pattern == "checker":
        return ((dx / half).floor() + (dy / half).floor()).remainder(2).eq(0).float()
    if pattern == "dots":
        gx = dx / period - (dx / period).round()
        gy = dy / period - (dy / period).round()
        return (gx.square() + gy.square()).gt(0.3**2).float()
    if pattern == "hstripes":
        return (dy / half).floor().remainder(2).eq(0).float()
    if pattern == "vstripes":
        return (dx / half).floor().remainder(2).eq(0).float()
    if pattern == "diagonal":
        return ((dx + dy) / (half * math.sqrt(2))).floor().remainder(2).eq(0).float()
    if pattern == "rings":
        return (torch.hypot(dx, dy) / half).floor().remainder(2).eq(0).float()
    raise ValueError(f"unknown fill pattern {pattern!r}")


def _fill_set(fills: str) -> tuple[FillMode, ...]:
    if fills not in FILL_SETS:
        raise ValueError(f"fills={fills!r}: use one of {', '.join(map(repr, FILL_SETS))}")
    return FILL_SETS[fills]


def fill_outline(class_map: torch.Tensor, mode: int, fills: str = "patterned") -> torch.Tensor:
    """Render the target for an outline: white background, black outline, filled interior.

    Args:
        class_map: int64 (H, W) with 0 background, 1 interior, 2 outline.
        mode: index into the fill set (:data:`FILL_MODES` or :data:`SOLID_FILL_MODES`).
        fills: ``"patterned"`` (colour pairs and patterns) or ``"solid"`` (solid colours).

    Returns:
        float32 (3, H, W) in [-1, 1]. The pattern is anchored at the centroid of the shape
        and its size scales with the image height, so the result depends only on
        ``(class_map, mode)``: the K modes are K points, not K clouds.
    """
    if not 0 <= int(mode) < MAX_MODES:
        raise ValueError(f"mode must be in [0, {MAX_MODES - 1}], got {mode!r}")
    fill = _fill_set(fills)[int(mode)]
    h, w = class_map.shape
    ys, xs = pixel_grid(h, w)
    inside = class_map > 0
    area = inside.sum().clamp(min=1)
    cy = float((inside * ys).sum() / area)
    cx = float((inside * xs).sum() / area)
    radius = math.sqrt(float(area) / math.pi) / h  # equivalent-disc radius, height units
    dx, dy = xs - cx, ys - cy
    period = max(0.1, 6.0 / h)  # at least 6 px so the pattern survives at 32 px
    main = _pattern(fill.pattern, dx, dy, period).expand(h, w)  # (H, W)
    colour = torch.tensor(fill.colour).view(3, 1, 1)
    accent = torch.tensor(fill.accent).view(3, 1, 1)
    rgb = accent + (colour - accent) * main
    # Soft light from the upper left, so the solid modes are not flat.
    light = 1.0 + 0.08 * ((-dx - dy) / (1.4 * max(radius, 1e-3))).clamp(-1.0, 1.0)
    rgb = rgb * light
    out = torch.ones(3, h, w)
    out = torch.where(class_map == 1, rgb, out)
    out = torch.where(class_map == 2, torch.zeros(()), out)
    return to_signed(out)


# --------------------------------------------------------------------------- mode classifier


def _interior_mask(masks: torch.Tensor) -> torch.Tensor:
    m = torch.as_tensor(masks)
    return m.bool() if m.dtype == torch.bool else (m == 1) if not m.is_floating_point() \
        else m > 0.5


def mode_statistics(images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Mean colour and colour spread inside each image's interior.

    Args:
        images: (N, 3, H, W) or (3, H, W) in [-1, 1].
        masks: (N, H, W) or (H, W): a bool interior mask, or the int64 class map
            (interior = 1), or a float mask (> 0.5).

    Returns:
        (N, 6): mean R, G, B and standard deviation of R, G, B, in [0, 1] colour units.
        Rows with an empty interior are NaN.
    """
    x = torch.as_tensor(images, dtype=torch.float32)
    m = _interior_mask(masks)
    if x.dim() == 3:
        x = x[None]
    if m.dim() == 2:
        m = m[None]
    if x.dim() != 4 or x.shape[1] != 3 or m.shape != (x.shape[0],) + tuple(x.shape[-2:]):
        raise ValueError(
            f"images must be (N, 3, H, W) and masks (N, H, W) of the same N, H, W; got "
            f"{tuple(x.shape)} and {tuple(torch.as_tensor(masks).shape)}"
        )
    x = (x + 1.0) / 2.0
    w = m[:, None].float()  # (N, 1, H, W)
    n = w.sum((2, 3))  # (N, 1)
    mean = (x * w).sum((2, 3)) / n
    var = ((x - mean[..., None, None]).square() * w).sum((2, 3)) / n
    return torch.cat([mean, var.clamp(min=0).sqrt()], 1)


@lru_cache(maxsize=8)
def _reference_statistics(num_modes: int, fills: str = "patterned") -> torch.Tensor:
    """(K, 6) statistics of each mode, measured once on a large reference disc."""
    size = 128
    ys, xs = pixel_grid(size, size)
    disc = ((ys - 0.5).square() + (xs - 0.5).square()) <= 0.4**2
    class_map = disc.long()
    images = torch.stack([fill_outline(class_map, k, fills) for k in range(num_modes)])
    return mode_statistics(images, disc.expand(num_modes, size, size))


def mode_distances(images: torch.Tensor, masks: torch.Tensor, num_modes: int = 6,
                   fills: str = "patterned") -> torch.Tensor:
    """Distance of each image's fill to each of the first ``num_modes`` modes of the fill set
    ``fills``: (N, K).

    ``d = |mean - mean_k| + 0.5 |std - std_k|`` (Euclidean norms over RGB, [0, 1] units).
    The mean colour separates the modes; the spread term makes a blurred pattern (right mean,
    no contrast) count as far from its mode.
    """
    _check_num_modes(num_modes)
    _fill_set(fills)
    stats = mode_statistics(images, masks)  # (N, 6)
    ref = _reference_statistics(num_modes, fills)  # (K, 6)
    d_mean = (stats[:, None, :3] - ref[None, :, :3]).norm(dim=-1)
    d_std = (stats[:, None, 3:] - ref[None, :, 3:]).norm(dim=-1)
    return d_mean + 0.5 * d_std


def classify_modes(images: torch.Tensor, masks: torch.Tensor, num_modes: int = 6,
                   max_distance: float = DEFAULT_MAX_DISTANCE, fills: str = "patterned"
                   ) -> torch.Tensor:
    """Nearest fill mode of each image, or -1 when it is not close to any mode.

    Args:
        images: generated or real targets, (N, 3, H, W) or (3, H, W) in [-1, 1].
        masks: the interior of each outline (see :func:`mode_statistics`).
        num_modes: K of the dataset the images belong to.
        max_distance: largest :func:`mode_distances` value that still counts as the mode.
        fills: the fill set the images were drawn from (``"patterned"`` or ``"solid"``).

    Returns:
        int64 (N,): the mode id in [0, K), or -1 for an invalid output (also for an empty
        interior).
    """
    d = mode_distances(images, masks, num_modes, fills)
    best, idx = d.min(1)
    valid = torch.isfinite(best) & (best <= max_distance)
    return torch.where(valid, idx, torch.full_like(idx, -1))


def _check_num_modes(num_modes: Any) -> int:
    if isinstance(num_modes, bool) or not isinstance(num_modes, int) or \
            not 2 <= num_modes <= MAX_MODES:
        raise ValueError(f"num_modes must be an int in [2, {MAX_MODES}], got {num_modes!r}")
    return num_modes


# --------------------------------------------------------------------------- the dataset


class SyntheticShapes(SyntheticPairs):
    """Outline -> filled shape with ``num_modes`` equally likely fills (see module docstring).

    ``ds[i]`` returns ``"A"`` (3, H, W) black outline on white, ``"B"`` (3, H, W) the filled
    shape, ``"class_map"`` (H, W) with 0 background, 1 interior, 2 outline, ``"mode"`` (int)
    and ``"index"``. :meth:`render` draws the same outline with any mode, :meth:`all_modes`
    with every mode, and :meth:`classify` finds the mode of images.
    """

    dataset_name: ClassVar[str] = "shapes"
    class_names: ClassVar[tuple[str, ...]] = ("background", "interior", "outline")
    palette: ClassVar[tuple[tuple[int, int, int], ...]] = ((255, 255, 255), (150, 150, 150),
                                                           (0, 0, 0))

    def __init__(self, image_size: int | tuple[int, int] = 64, split: str = "train",
                 seed: int = 0, length: int | None = None, num_modes: int = 6,
                 fills: str = "patterned", inputs: str = "outline") -> None:
        super().__init__(image_size=image_size, split=split, seed=seed, length=length)
        self.num_modes = _check_num_modes(num_modes)
        _fill_set(fills)
        self.fills = fills
        if inputs not in INPUT_STYLES:
            raise ValueError(f"inputs={inputs!r}: use one of {', '.join(map(repr, INPUT_STYLES))}")
        self.inputs = inputs

    def __repr__(self) -> str:
        extra = "" if self.fills == "patterned" else f", fills={self.fills!r}"
        extra += "" if self.inputs == "outline" else f", inputs={self.inputs!r}"
        return super().__repr__()[:-1] + f", num_modes={self.num_modes}{extra})"

    @property
    def modes(self) -> tuple[FillMode, ...]:
        """The fill modes of this dataset (the first ``num_modes`` of its fill set)."""
        return _fill_set(self.fills)[:self.num_modes]

    def outline(self, index: int) -> torch.Tensor:
        """The class map (H, W) of sample ``index``: 0 background, 1 interior, 2 outline."""
        index = self._check_index(index)
        rs = self.stream(index, "outline")
        kind = rs.choice(SHAPE_KINDS)
        table = _outline_table(kind, rs)
        aspect = self.width / self.height
        size = rs.uniform(0.24, 0.42)  # largest radius, in image heights
        margin = size + 0.04
        cx = rs.uniform(margin, max(margin, aspect - margin))
        cy = rs.uniform(margin, max(margin, 1.0 - margin))
        rotation = rs.uniform(0.0, 2 * math.pi)
        return _rasterise_outline(table, cx, cy, size, rotation, self.height, self.width)

    def mode_of(self, index: int) -> int:
        """The fill mode of sample ``index``, drawn independently of its outline."""
        index = self._check_index(index)
        return self.stream(index, "mode").integer(0, self.num_modes - 1)

    def render(self, index: int, mode: int) -> torch.Tensor:
        """Target (3, H, W) of sample ``index`` filled with ``mode`` instead of its own."""
        if isinstance(mode, bool) or not isinstance(mode, int) or \
                not 0 <= mode < self.num_modes:
            raise ValueError(f"mode must be an int in [0, {self.num_modes - 1}], got {mode!r}")
        return fill_outline(self.outline(index), mode, self.fills)

    def all_modes(self, index: int) -> torch.Tensor:
        """The K possible targets of sample ``index``: (K, 3, H, W)."""
        class_map = self.outline(index)
        return torch.stack([fill_outline(class_map, k, self.fills) for k in range(self.num_modes)])

    def classify(self, images: torch.Tensor, masks: torch.Tensor,
                 max_distance: float = DEFAULT_MAX_DISTANCE) -> torch.Tensor:
        """:func:`classify_modes` with this dataset's ``num_modes``."""
        return classify_modes(images, masks, self.num_modes, max_distance, self.fills)

    def make_sample(self, index: int) -> dict[str, Any]:
        class_map = self.outline(index)
        mode = self.mode_of(index)
        edges = torch.where(class_map == 2, -1.0, 1.0)
        if self.inputs == "silhouette":
            edges = torch.where(class_map == 1, 0.0, edges)     # the interior in mid grey
        edges = edges.expand(3, -1, -1).contiguous()
        return {
            "A": edges,
            "B": fill_outline(class_map, mode, self.fills),
            "class_map": class_map,
            "mode": mode,
            "index": index,
        }

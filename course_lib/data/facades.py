"""Facades: label map -> photo, where the photo's fine texture is random given the labels.

pix2pix (Isola et al., CVPR 2017) trains on the CMP facades, labels -> photo (Sec. 4,
Fig. 1), and argues in Sec. 3.1 (Eq. 3) that an L1 loss alone "produces blurry results":
the L1-optimal output is the per-pixel median, and when a detail (where the mortar lines
fall, the colour of a brick) can take many values for the same labels, the median
washes it out. A conditional GAN (Eq. 1) instead asks for an output that looks real.

This dataset makes that argument exact. A layout (the CMP classes: facade wall, windows in
irregular grids, doors, cornices, sills, balconies, blinds, decorations, mouldings, pillars,
shop fronts and the background sky) is drawn from a "layout" random stream and rendered as
a colour-coded label image A. The photo B is rendered from the class map *alone* with a
separate "photo" stream: brick, stone or plaster with random scale and phase, colour and
lighting jitter, window reflections, cast shadows and film grain. :func:`render_photo` and
:meth:`SyntheticFacades.sample_photos` draw many photos of one layout; their per-pixel mean
is much smoother than any one of them, which is what an L1-trained generator converges to.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from course_lib.data.synthetic import (
    RandomStream,
    SyntheticPairs,
    box_spans,
    jet_palette,
    run_coordinates,
    smooth_noise,
    to_signed,
)

__all__ = ["SyntheticFacades", "Part", "facade_layout", "rasterise_layout", "render_photo",
           "CLASS_NAMES"]

# The 12 classes of the CMP facade database, in its order.
CLASS_NAMES: tuple[str, ...] = ("background", "facade", "window", "door", "cornice", "sill",
                                "balcony", "blind", "deco", "molding", "pillar", "shop")
(BACKGROUND, FACADE, WINDOW, DOOR, CORNICE, SILL, BALCONY, BLIND, DECO, MOLDING, PILLAR,
 SHOP) = range(12)


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class Part:
    """One element of a facade layout: a class and a box.

    ``box`` is ``(y0, x0, y1, x1)`` in height units (image height 1), so a layout renders at
    any resolution. With ``gable=True`` the part is the triangle inscribed in the box, apex
    at the top centre (a pediment over a window).
    """

    cls: int
    box: tuple[float, float, float, float]
    gable: bool = False


def facade_layout(rs: RandomStream, aspect: float = 1.0) -> list[Part]:
    """Draw a random facade layout, as a list of parts painted in order (later on top).

    Args:
        rs: the layout's random stream.
        aspect: image width / height.
    """
    parts: list[Part] = []

    def rect(cls: int, y0: float, x0: float, y1: float, x1: float,
             gable: bool = False) -> None:
        parts.append(Part(cls, (y0, x0, y1, x1), gable))

    # The building: background (sky) above the roof line and, sometimes, at the sides.
    roof = rs.uniform(0.03, 0.18) if rs.chance(0.85) else 0.0
    left = rs.uniform(0.02, 0.08) * aspect if rs.chance(0.2) else 0.0
    right = aspect - (rs.uniform(0.02, 0.08) * aspect if rs.chance(0.2) else 0.0)
    width = right - left
    rect(FACADE, roof, left, 1.0, right)

    # Main cornice under the roof line, overhanging the wall a little.
    cornice_h = rs.uniform(0.02, 0.045) if rs.chance(0.8) else 0.0
    if cornice_h:
        rect(CORNICE, roof, left - 0.01, roof + cornice_h, right + 0.01)
    top = roof + cornice_h

    # Floors: a taller ground floor and 2-5 upper floors of equal height.
    n_upper = rs.integer(2, 5)
    ground_h = (1.0 - top) * rs.uniform(0.2, 0.3)
    floor_h = (1.0 - top - ground_h) / n_upper
    ground_top = 1.0 - ground_h
    floor_tops = [top + k * floor_h for k in range(n_upper)]

    # Window columns, spaced irregularly.
    n_cols = max(2, round(width * rs.uniform(2.2, 4.6)))
    spacing = width / n_cols
    centres = [left + (j + 0.5) * spacing + rs.uniform(-0.07, 0.07) * spacing
               for j in range(n_cols)]
    win_w = spacing * rs.uniform(0.36, 0.56)
    win_h = floor_h * rs.uniform(0.45, 0.62)
    win_top = floor_h * rs.uniform(0.18, 0.28)  # from the top of the floor

    # Building-wide style decisions.
    has_molding = rs.chance(0.45)
    mold = rs.uniform(0.008, 0.016)
    has_sill = rs.chance(0.75)
    has_deco = rs.chance(0.35)
    pediment = rs.chance(0.5)
    has_blinds = rs.chance(0.3)
    if has_blinds:  # shutters open beside the window need room
        win_w = min(win_w, 0.4 * spacing)
    balcony_style = rs.choice(("none", "none", "single", "row"))
    has_string_courses = rs.chance(0.4)
    pillars = rs.choice(("none", "none", "edges", "gaps"))
    shop_front = rs.chance(0.55)

    # Horizontal bands between floors.
    if has_string_courses:
        band = rs.uniform(0.008, 0.016)
        for y in floor_tops[1:]:
            rect(CORNICE, y - band / 2, left, y + band / 2, right)
    if rs.chance(0.6):
        band = rs.uniform(0.012, 0.025)
        rect(CORNICE, ground_top - band, left, ground_top, right)

    # Pilasters, at the wall's edges or in the gaps between window columns.
    if pillars != "none":
        pw = rs.uniform(0.025, 0.05)
        xs = [left + pw / 2, right - pw / 2]
        if pillars == "gaps":
            xs += [(centres[j] + centres[j + 1]) / 2 for j in range(n_cols - 1)]
        for x in xs:
            rect(PILLAR, top, x - pw / 2, ground_top, x + pw / 2)

    def window(cx: float, y0: float, w: float, h: float, ground: bool) -> None:
        x0, x1, y1 = cx - w / 2, cx + w / 2, y0 + h
        if has_molding:
            rect(MOLDING, y0 - mold, x0 - mold, y1 + mold, x1 + mold)
        if has_blinds and not ground:
            rect(BLIND, y0, x0 - 0.5 * w, y1, x0)
            rect(BLIND, y0, x1, y1, x1 + 0.5 * w)
        rect(WINDOW, y0, x0, y1, x1)
        if has_sill:
            rect(SILL, y1, x0 - 0.012, y1 + rs.uniform(0.008, 0.014), x1 + 0.012)
        if has_deco:
            lift = mold if has_molding else 0.0
            if pediment:
                base = y0 - lift - 0.004
                rect(DECO, base - 0.35 * w, x0 - 0.02, base, x1 + 0.02, gable=True)
            else:
                rect(DECO, y0 - lift - 0.02, x0 - 0.01, y0 - lift, x1 + 0.01)

    # Upper floors: the grid, with per-floor size changes and a few missing windows.
    for k, y in enumerate(floor_tops):
        attic = k == 0 and n_upper >= 4 and rs.chance(0.4)
        scale_h = 0.7 if attic else rs.uniform(0.93, 1.07)
        scale_w = rs.uniform(0.92, 1.08)
        for cx in centres:
            if rs.chance(0.06):
                continue
            window(cx + rs.uniform(-0.006, 0.006), y + win_top, win_w * scale_w,
                   win_h * scale_h, ground=False)
        # Balconies hang in front of the lower part of the windows (not on the top floor).
        if balcony_style != "none" and k > 0 and rs.chance(0.6):
            b_top = y + win_top + win_h * rs.uniform(0.55, 0.7)
            b_bot = y + win_top + win_h + 0.015
            if balcony_style == "row":
                rect(BALCONY, b_top, left + 0.02, b_bot, right - 0.02)
            else:
                for cx in centres:
                    if rs.chance(0.6):
                        rect(BALCONY, b_top, cx - win_w / 2 - 0.03, b_bot,
                             cx + win_w / 2 + 0.03)

    # Ground floor: shop fronts with doors between them, or a door among windows.
    door_h = ground_h * rs.uniform(0.62, 0.8)
    if shop_front:
        n_shops = 1 if width < 0.7 or rs.chance(0.4) else 2
        door_col = rs.integer(0, n_cols - 1)
        shop_h = ground_h * rs.uniform(0.62, 0.82)
        edges = [left + 0.03, right - 0.03]
        if n_shops == 2:
            mid = (centres[door_col] if 0 < door_col < n_cols - 1 else (left + right) / 2)
            edges = [left + 0.03, mid - spacing * 0.3, mid + spacing * 0.3, right - 0.03]
        for a, b in zip(edges[::2], edges[1::2]):
            rect(SHOP, 1.0 - shop_h, a, 1.0, b)
        door_x = mid if n_shops == 2 else centres[door_col]
        door_w = spacing * (0.45 if n_shops == 2 else rs.uniform(0.35, 0.5))
        rect(DOOR, 1.0 - door_h, door_x - door_w / 2, 1.0, door_x + door_w / 2)
    else:
        door_col = rs.integer(0, n_cols - 1)
        for j, cx in enumerate(centres):
            if j == door_col:
                door_w = spacing * rs.uniform(0.4, 0.6)
                if has_molding:
                    rect(MOLDING, 1.0 - door_h - mold, cx - door_w / 2 - mold, 1.0,
                         cx + door_w / 2 + mold)
                rect(DOOR, 1.0 - door_h, cx - door_w / 2, 1.0, cx + door_w / 2)
            else:
                gy = ground_top + ground_h * rs.uniform(0.15, 0.25)
                window(cx, gy, win_w, ground_h * rs.uniform(0.5, 0.6), ground=True)
    return parts


def rasterise_layout(parts: list[Part], height: int, width: int) -> torch.Tensor:
    """Paint a layout into an int64 (H, W) class map (background where nothing is drawn).

    The painter's loop runs on a NumPy array: a slice assignment costs well under a
    microsecond there and about ten in torch, and a layout has around fifty parts.
    """
    canvas = np.full((height, width), BACKGROUND, dtype=np.int64)
    spans = box_spans([p.box for p in parts], height, width)
    for part, (r0, c0, r1, c1) in zip(parts, spans):
        if not part.gable:
            canvas[r0:r1, c0:c1] = part.cls
        elif r1 > r0 and c1 > c0:
            # Triangle: the half-width grows linearly from 0 at the apex to the full box.
            rows = (np.arange(r0, r1) + 0.5 - r0) / (r1 - r0)
            cols = np.arange(c0, c1) + 0.5 - (c0 + c1) / 2
            inside = np.abs(cols)[None, :] <= rows[:, None] * ((c1 - c0) / 2)
            canvas[r0:r1, c0:c1][inside] = part.cls
    return torch.from_numpy(canvas)


# --------------------------------------------------------------------------- photo textures


def _colour(rgb: tuple[float, float, float], rs: RandomStream, jitter: float) -> torch.Tensor:
    """A (3, 1, 1) colour with brightness and per-channel jitter."""
    gain = rs.uniform(1 - jitter, 1 + jitter)
    return torch.tensor([c * gain * rs.uniform(1 - jitter / 2, 1 + jitter / 2)
                         for c in rgb], dtype=torch.float32).view(3, 1, 1)


def _joint(pos: torch.Tensor, period: float, thickness: float) -> torch.Tensor:
    """Anti-aliased coverage (0-1) of lines of ``thickness`` px every ``period`` px."""
    frac = pos.remainder(period)
    dist = torch.minimum(frac, period - frac)  # distance to the nearest line, in pixels
    return (thickness / 2 + 0.5 - dist).clamp(0.0, 1.0)


def _masonry(rs: RandomStream, py: torch.Tensor, px: torch.Tensor, base: torch.Tensor,
             mortar: torch.Tensor, course_h: float, unit_len: float, joint: float,
             jitter: float) -> torch.Tensor:
    """Running-bond masonry (bricks or stone blocks) with per-unit colour jitter.

    Every other course is shifted by half a unit; each unit gets its own brightness and tint
    from a small random table, looked up by the unit's (row, column) number.
    """
    g = rs.generator
    y = py + rs.uniform(0, course_h)  # random phase
    row = (y / course_h).floor()
    x = px + rs.uniform(0, unit_len) + row.remainder(2) * (unit_len / 2)
    col = (x / unit_len).floor()
    tint = 1.0 + 0.3 * jitter * torch.randn(3, 1024, generator=g)  # small hue changes
    shade = 1.0 + jitter * torch.randn(1024, generator=g)  # brightness per unit
    unit_id = (row * 31 + col).long().remainder(1024)  # (H, W)
    colour = base * tint[:, unit_id] * shade[unit_id]
    lines = torch.maximum(_joint(y, course_h, joint), _joint(x, unit_len, joint))
    return colour + (mortar - colour) * lines


def _wall(rs: RandomStream, py: torch.Tensor, px: torch.Tensor, height: int,
          blotches: torch.Tensor, fine: torch.Tensor) -> torch.Tensor:
    """The facade wall: brick, stone blocks or plaster, at a random scale and phase."""
    material = rs.choice(("brick", "brick", "stone", "plaster", "plaster"))
    if material == "brick":
        base = _colour(rs.choice(((0.62, 0.28, 0.20), (0.70, 0.42, 0.28), (0.52, 0.32, 0.26),
                                  (0.78, 0.66, 0.48))), rs, 0.12)
        mortar = _colour((0.78, 0.75, 0.70), rs, 0.1)
        course = max(2.5, rs.uniform(0.016, 0.028) * height)  # brick height in pixels
        tex = _masonry(rs, py, px, base, mortar, course, course * rs.uniform(2.1, 2.9),
                       max(0.7, 0.16 * course), 0.09)
        return tex * (1 + 0.04 * blotches + 0.1 * fine)
    if material == "stone":
        base = _colour(rs.choice(((0.80, 0.76, 0.66), (0.72, 0.70, 0.66), (0.85, 0.80, 0.70))),
                       rs, 0.08)
        course = max(4.0, rs.uniform(0.04, 0.07) * height)
        tex = _masonry(rs, py, px, base, base * 0.72, course, course * rs.uniform(1.5, 2.4),
                       max(0.8, 0.08 * course), 0.06)
        return tex * (1 + 0.04 * blotches + 0.16 * fine)
    base = _colour(rs.choice(((0.90, 0.85, 0.72), (0.86, 0.70, 0.46), (0.88, 0.70, 0.64),
                              (0.80, 0.80, 0.77), (0.93, 0.86, 0.60), (0.72, 0.78, 0.82))),
                   rs, 0.08)
    return base * (1 + 0.07 * blotches + 0.24 * fine)  # plaster: stains and rough stucco


def _glass(rs: RandomStream, py: torch.Tensor, px: torch.Tensor, height: int,
           soft: torch.Tensor) -> torch.Tensor:
    """Dark glass with sky reflections: a soft field plus diagonal highlight streaks."""
    base = _colour(rs.choice(((0.16, 0.20, 0.26), (0.22, 0.26, 0.30), (0.12, 0.14, 0.18),
                              (0.30, 0.36, 0.42))), rs, 0.15)
    sky = _colour((0.62, 0.74, 0.88), rs, 0.15)
    angle = rs.uniform(0.5, 1.2)
    period = rs.uniform(0.15, 0.4) * height
    t = (px * math.cos(angle) + py * math.sin(angle)) / period + rs.uniform(0, 1)
    streak = torch.cos(2 * math.pi * t).clamp(min=0).pow(6)
    amount = rs.uniform(0.2, 0.6) * (0.6 * streak + 0.8 * soft.clamp(min=0))
    return base + (sky - base) * amount.clamp(0, 1)


def _frame_cover(u: torch.Tensor, v: torch.Tensor, run_w: torch.Tensor,
                 run_h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Anti-aliased coverage of frames inside rectangles, from run coordinates.

    Returns ``(border, mullion, bar_width)``: the frame along the four edges, a vertical bar
    in the middle, and the bar width in pixels (7 % of the rectangle, at least 1 px), for
    drawing a horizontal transom wherever the caller wants one.
    """
    fw = (0.07 * run_w).clamp(min=1.0)  # frame width in pixels
    fh = (0.05 * run_h).clamp(min=1.0)
    du = torch.minimum(u, 1 - u) * run_w - fw  # < 0 on the left/right frame
    dv = torch.minimum(v, 1 - v) * run_h - fh  # < 0 on the top/bottom frame
    border = (0.5 - torch.minimum(du, dv)).clamp(0, 1)
    mullion = (0.5 + fw / 2 - (u - 0.5).abs() * run_w).clamp(0, 1)
    return border, mullion, fh


def _cast_shadow(mask: torch.Tensor, length: int) -> torch.Tensor:
    """Pixels within ``length`` rows *below* ``mask`` (the sun is above the facade)."""
    if length <= 0:
        return torch.zeros_like(mask)
    x = F.pad(mask.float()[None, None], (0, 0, length, 0))
    below = F.max_pool2d(x, (length, 1), stride=1)[0, 0, :mask.shape[0]]
    return below.bool() & ~mask


def render_photo(class_map: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Render one random photo of a facade label map.

    Every texture depends on the class map and on ``generator`` only, so calling this with
    different generators gives different photos of the same layout. Each class is textured
    over the whole image and then kept where the class map says so; rectangles (windows,
    doors, shops) get frames and panels from :func:`run_coordinates`.

    Args:
        class_map: int64 (H, W) with values in [0, 12).
        generator: the random generator of this photo.

    Returns:
        float32 (3, H, W) in [-1, 1].
    """
    cm = torch.as_tensor(class_map)
    if cm.dim() != 2 or cm.dtype.is_floating_point:
        raise ValueError(f"class_map must be an integer (H, W) tensor, got {cm.dtype} "
                         f"{tuple(cm.shape)}")
    rs = RandomStream(generator=generator)
    g = generator
    h, w = cm.shape
    py = torch.arange(h, dtype=torch.float32).add_(0.5).view(h, 1)  # pixel coordinates
    px = torch.arange(w, dtype=torch.float32).add_(0.5).view(1, w)
    counts = torch.bincount(cm.reshape(-1), minlength=len(CLASS_NAMES)).tolist()
    present = {c for c, n in enumerate(counts) if n}
    u, v, run_w, run_h = run_coordinates(cm)  # texture coordinates inside every rectangle
    # Shared random fields; the classes cover disjoint pixels, so they can share them.
    soft = smooth_noise(g, h, w, rs.uniform(3, 8), channels=3)  # (3, H, W) blotches
    white = torch.rand(1, 1, h + 2, w + 2, generator=g).sub_(0.5)  # per-pixel noise
    fine = F.avg_pool2d(white, 3, stride=1)[0] * 5.0  # (1, H, W) fine grit, std ~0.5
    photo = torch.zeros(3, h, w)

    def put(cls: int, tex: torch.Tensor) -> None:
        nonlocal photo
        photo = torch.where(cm == cls, tex, photo)

    # Sky: a vertical gradient (blue or overcast) with soft clouds.
    if BACKGROUND in present:
        zenith = _colour(rs.choice(((0.35, 0.55, 0.85), (0.55, 0.68, 0.86), (0.70, 0.72, 0.76))),
                         rs, 0.08)
        horizon = _colour((0.85, 0.88, 0.92), rs, 0.05)
        sky = zenith + (horizon - zenith) * (py / h)
        clouds = (soft[0] - rs.uniform(0.0, 0.4)).clamp(min=0) * rs.uniform(0.8, 2.0)
        put(BACKGROUND, sky + (0.96 - sky) * clouds.clamp(max=1))

    if FACADE in present:
        put(FACADE, _wall(rs, py, px, h, soft[1], fine))

    # Stone trim: cornices, sills, mouldings, decorations and pillars share one stone.
    trim = _colour(rs.choice(((0.92, 0.90, 0.84), (0.82, 0.80, 0.76), (0.88, 0.82, 0.70),
                              (0.70, 0.66, 0.60))), rs, 0.06) * (1 + 0.05 * fine)
    profile = 1.1 - 0.3 * v + 0.05 * torch.cos(v * math.pi * rs.integer(2, 4))  # lit on top
    for c in (CORNICE, SILL):
        if c in present:
            put(c, trim * profile)
    for c in (MOLDING, DECO):
        if c in present:
            put(c, trim)
    if PILLAR in present:
        put(PILLAR, trim * (1 + 0.08 * torch.cos(2 * math.pi * u * rs.integer(3, 5))))
    if BALCONY in present:
        if rs.chance(0.6):  # wrought-iron railing: bars against a shadowed wall
            iron = _colour(rs.choice(((0.1, 0.1, 0.1), (0.12, 0.2, 0.15), (0.35, 0.35, 0.35))),
                           rs, 0.1)
            bar_period = max(2.0, rs.uniform(0.012, 0.02) * h)
            bars = _joint(px + rs.uniform(0, bar_period), bar_period, bar_period * 0.35)
            rail = ((v < 0.15) | (v > 0.88)).float()
            dark = torch.tensor([0.16, 0.15, 0.15]).view(3, 1, 1)
            put(BALCONY, dark + (iron - dark) * torch.maximum(bars, rail))
        else:  # stone balustrade
            baluster = max(3.0, rs.uniform(0.015, 0.025) * h)
            bumps = 0.8 + 0.25 * torch.cos(2 * math.pi * px / baluster + rs.uniform(0, 6.3))
            put(BALCONY, trim * torch.where(v < 0.2, torch.ones(()), bumps))

    if {WINDOW, DOOR, SHOP} & present:
        border, mullion, bar = _frame_cover(u, v, run_w, run_h)

    if WINDOW in present:
        frame = _colour(rs.choice(((0.92, 0.92, 0.90), (0.35, 0.22, 0.14), (0.2, 0.2, 0.22),
                                   (0.55, 0.6, 0.55))), rs, 0.05)
        cover = torch.maximum(border, mullion) if rs.chance(0.7) else border
        if rs.chance(0.5):  # a transom a third of the way down
            transom = (0.5 + bar / 2 - (v - rs.uniform(0.25, 0.35)).abs() * run_h).clamp(0, 1)
            cover = torch.maximum(cover, transom)
        glass = _glass(rs, py, px, h, soft[2])
        put(WINDOW, glass + (frame - glass) * cover)

    if BLIND in present:
        paint = _colour(rs.choice(((0.22, 0.40, 0.26), (0.45, 0.30, 0.18), (0.45, 0.52, 0.60),
                                   (0.86, 0.86, 0.80), (0.52, 0.20, 0.16))), rs, 0.08)
        slat = max(2.0, rs.uniform(0.008, 0.014) * h)
        slats = 0.8 + 0.3 * ((py + rs.uniform(0, slat)) / slat).remainder(1.0)
        put(BLIND, paint * slats)

    if DOOR in present:
        wood = _colour(rs.choice(((0.32, 0.2, 0.12), (0.45, 0.28, 0.15), (0.15, 0.25, 0.18),
                                  (0.4, 0.12, 0.1), (0.12, 0.12, 0.13))), rs, 0.1)
        panel_edge = (((u - 0.5).abs() - 0.32).abs() * run_w < 1.0) | \
                     (((v - 0.5).abs() - 0.4).abs() * run_h < 1.0)
        door = wood * (1 + 0.08 * fine) * torch.where(panel_edge, 0.7, 1.0)
        if rs.chance(0.4):  # glazed upper half
            door = torch.where(v < 0.4, _glass(rs, py, px, h, soft[2]), door)
        put(DOOR, door + (wood * 0.6 - door) * border)

    if SHOP in present:
        dark = _colour((0.14, 0.15, 0.17), rs, 0.2)
        warm = torch.tensor([0.45, 0.35, 0.2]).view(3, 1, 1)
        lights = warm * soft[0].clamp(min=0) + 0.12 * soft.clamp(min=0)  # lit shop inside
        sign = _colour(rs.choice(((0.7, 0.1, 0.1), (0.1, 0.3, 0.6), (0.1, 0.45, 0.25),
                                  (0.85, 0.7, 0.2), (0.15, 0.15, 0.15))), rs, 0.1)
        letters = (torch.rand(1, 1, w, generator=g) < 0.5).float() * \
            ((v - 0.11).abs() < 0.05).float()
        shop = torch.where(v < 0.22, sign + (0.95 - sign) * letters, dark + lights)
        frame = _colour((0.25, 0.25, 0.27), rs, 0.2)
        cover = torch.maximum(border, mullion) if rs.chance(0.5) else border
        put(SHOP, shop + (frame - shop) * cover)

    # Cast shadows below protruding parts, with a random sun height.
    protruding = (cm == CORNICE) | (cm == SILL) | (cm == BALCONY) | (cm == DECO)
    shadow = _cast_shadow(protruding, round(rs.uniform(0.0, 0.02) * h))
    shadow &= cm != BACKGROUND
    photo = torch.where(shadow, photo * rs.uniform(0.55, 0.8), photo)

    # Camera: exposure, white balance, a lighting gradient and film grain.
    angle = rs.uniform(0, 2 * math.pi)
    ramp = ((px - w / 2) * math.cos(angle) + (py - h / 2) * math.sin(angle)) / h
    gain = rs.uniform(0.85, 1.1) * (1 + rs.uniform(0.0, 0.35) * ramp)
    balance = torch.tensor([rs.uniform(0.94, 1.06) for _ in range(3)]).view(3, 1, 1)
    grain = white[0, :, 1:-1, 1:-1] * (rs.uniform(0.015, 0.035) * 3.4)  # std 1.5-3.5 %
    photo = photo * gain * balance + grain
    return to_signed(photo)


# --------------------------------------------------------------------------- the dataset


class SyntheticFacades(SyntheticPairs):
    """Facade label maps (CMP classes) -> photos with random texture (see module docstring).

    ``ds[i]`` returns ``"A"`` (3, H, W) the colour-coded label image, ``"B"`` (3, H, W) the
    photo, ``"class_map"`` int64 (H, W) and ``"index"``. :meth:`sample_photos` renders
    further photos of the same layout.
    """

    dataset_name: ClassVar[str] = "facades"
    class_names: ClassVar[tuple[str, ...]] = CLASS_NAMES
    palette: ClassVar[tuple[tuple[int, int, int], ...]] = jet_palette(len(CLASS_NAMES))

    def layout(self, index: int) -> list[Part]:
        """The layout (list of :class:`Part`) of sample ``index``."""
        index = self._check_index(index)
        return facade_layout(self.stream(index, "layout"), self.width / self.height)

    def class_map(self, index: int) -> torch.Tensor:
        """The int64 (H, W) class map of sample ``index``."""
        return rasterise_layout(self.layout(index), self.height, self.width)

    def sample_photos(self, index: int, n: int) -> torch.Tensor:
        """``n`` photos (n, 3, H, W) of the layout of sample ``index``.

        Photo 0 is the sample's own target ``ds[index]["B"]``; the others are further draws
        of the texture given the same labels.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        class_map = self.class_map(index)
        return torch.stack([render_photo(class_map, self.stream(index, f"photo{k}").generator)
                            for k in range(n)])

    def make_sample(self, index: int) -> dict[str, Any]:
        class_map = self.class_map(index)
        photo = render_photo(class_map, self.stream(index, "photo0").generator)
        return {"A": self.colorize(class_map), "B": photo, "class_map": class_map,
                "index": index}

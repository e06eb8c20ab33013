"""Blocks: rows of touching same-class objects parted only by a dark seam (pix2pixHD, Sec. 3.3).

Wang et al., CVPR 2018, Sec. 3.3 and Fig. 4-5: a semantic label map cannot tell two touching
objects of one class apart ("adjacent cars"); the **instance boundary map** can, and with it
"adjacent cars have sharper boundaries". The street scenes (:mod:`course_lib.data.streets`)
show the situation; this dataset is made so that the claim can be *measured* on a laptop:

* every scene has rows of 3 to 6 touching objects (**blocks**) of one class, of random widths
  and at a random start, so where one block ends cannot be read off the semantic map;
* every block of a class has the same bright colour (up to a small jitter), with no detail
  inside, so the only thing that parts two touching blocks is a **near-black seam** drawn on
  every instance boundary: 2 px wide between two blocks (one pixel of each), 1 px against the
  road. The seam is exactly where pix2pixHD's boundary map is 1 on an object;
* every scene has at least ``min_contacts`` same-class contacts (8 by default; 11-22 usual).

A generator that sees the boundary map can draw each seam where it belongs; one that sees only
the semantic map can at best guess (or repeat) positions. G1's bottleneck cell (``2 **
n_downsample_global`` px) should be smaller than a block for the first to be learnable at all.

Geometry is in height units (the image height is 1), so a layout renders at any resolution; the
seam stays 2 px wide at any size (it is the boundary map's width). Labels: 0 road, 1 and 2 the
two block classes. Instance ids as in Cityscapes: the road holds its class id, block ``k`` of
class ``c`` holds ``c * 1000 + k``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from course_lib.data.synthetic import RandomStream, SyntheticPairs, to_signed

__all__ = ["SyntheticBlocks", "BlocksLayout", "block_layout", "render_blocks", "CLASS_NAMES",
           "COLOURS", "INSTANCE_OFFSET"]

CLASS_NAMES: tuple[str, ...] = ("road", "sand block", "ice block")
# Photo colours in [0, 1]: a dark road and two bright block classes.
COLOURS: tuple[tuple[float, float, float], ...] = ((0.25, 0.25, 0.28), (0.95, 0.80, 0.60),
                                                   (0.62, 0.85, 0.95))
PALETTE: tuple[tuple[int, int, int], ...] = ((128, 64, 128), (220, 160, 40), (40, 120, 220))
INSTANCE_OFFSET = 1000
MAX_TRIES = 200             # layouts drawn before giving up on min_contacts


@dataclass(frozen=True)
class BlocksLayout:
    """One scene: ``rows`` of ``(y0, y1, class, [(x0, x1), ...])`` in pixels (x1 exclusive)."""

    rows: tuple[tuple[int, int, int, tuple[tuple[int, int], ...]], ...]

    @property
    def contacts(self) -> int:
        """Same-class contacts: neighbouring blocks of one row."""
        return sum(max(0, len(blocks) - 1) for *_, blocks in self.rows)

    def seams(self) -> list[tuple[int, int, int]]:
        """Every same-class seam as ``(y0, y1, x)``: the right block starts at column ``x``."""
        return [(y0, y1, x0) for y0, y1, _, blocks in self.rows for (x0, _) in blocks[1:]]


def _pair(value: Any, name: str, kind: type, low: float, high: float | None = None
          ) -> tuple[Any, Any]:
    ok = (isinstance(value, (tuple, list)) and len(value) == 2
          and all(isinstance(v, kind) and not isinstance(v, bool) for v in value))
    if kind is float and isinstance(value, (tuple, list)) and len(value) == 2:
        ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    if not ok or not (low <= value[0] <= value[1]) or (high is not None and value[1] > high):
        bound = f" and at most {high}" if high is not None else ""
        raise ValueError(f"{name} must be a (low, high) pair of {kind.__name__}s with "
                         f"{low} <= low <= high{bound}, got {value!r}")
    return kind(value[0]), kind(value[1])


def block_layout(rs: RandomStream, height: int, width: int, rows: tuple[int, int] = (3, 4),
                 blocks_per_row: tuple[int, int] = (3, 6),
                 block_width: tuple[float, float] = (0.19, 0.44),
                 min_contacts: int = 8) -> BlocksLayout:
    """Draw a layout (pixels). Rows fill the height with road gaps of at least 1/32 between
    them; in each row ``blocks_per_row`` blocks of widths drawn from ``block_width`` (height
    units) touch side by side from a random start. Layouts with fewer than ``min_contacts``
    same-class contacts are drawn again (``ValueError`` after ``MAX_TRIES``).

    Above 64 px high the layout is drawn on a grid of ``height // 64`` px cells, so a scene
    at 128 px is exactly its 64 px version scaled by 2 (a local enhancer's G1 sees the same
    blocks as a G1 trained at 64 px)."""
    unit = max(1, height // 64)
    if unit > 1 and height % unit == 0 and width % unit == 0:
        small = block_layout(rs, height // unit, width // unit, rows, blocks_per_row,
                             block_width, min_contacts)
        return BlocksLayout(tuple((y0 * unit, y1 * unit, c,
                                   tuple((x0 * unit, x1 * unit) for x0, x1 in blocks))
                                  for y0, y1, c, blocks in small.rows))
    gap = max(1, round(height / 32))
    margin = max(1, round(height / 32))
    lo_w, hi_w = (max(3, round(w * height)) for w in block_width)
    for _ in range(MAX_TRIES):
        n_rows = rs.integer(*rows)
        free = height - gap * (n_rows + 1)
        row_h = free / n_rows
        heights = [max(3, int(row_h * rs.uniform(0.8, 1.0))) for _ in range(n_rows)]
        spare = free - sum(heights)
        gaps = [gap] * (n_rows + 1)
        for _ in range(spare):
            gaps[rs.integer(0, n_rows)] += 1
        out, y = [], gaps[0]
        for r in range(n_rows):
            cls = rs.integer(1, 2)
            want = rs.integer(*blocks_per_row)
            widths = [rs.integer(lo_w, hi_w) for _ in range(want)]
            while len(widths) > 1 and sum(widths) > width - 2 * margin:
                widths.pop()
            x = margin + rs.integer(0, max(0, width - 2 * margin - sum(widths)))
            blocks = []
            for w in widths:
                blocks.append((x, x + w))
                x += w
            out.append((y, y + heights[r], cls, tuple(blocks)))
            y += heights[r] + gaps[r + 1]
        layout = BlocksLayout(tuple(out))
        if layout.contacts >= min_contacts:
            return layout
    raise ValueError(f"no layout with min_contacts={min_contacts} same-class contacts in "
                     f"{MAX_TRIES} tries at {height}x{width}: lower min_contacts or allow more "
                     f"or narrower blocks")


def _edges(instance_map: torch.Tensor) -> torch.Tensor:
    """Pixels with a 4-neighbour of another id (the boundary map of Sec. 3.3), bool (H, W)."""
    m = instance_map
    e = torch.zeros_like(m, dtype=torch.bool)
    dx, dy = m[:, 1:] != m[:, :-1], m[1:] != m[:-1]
    e[:, 1:] |= dx
    e[:, :-1] |= dx
    e[1:] |= dy
    e[:-1] |= dy
    return e


def render_blocks(layout: BlocksLayout, rs: RandomStream, height: int, width: int,
                  seam_value: float = 0.05, jitter: float = 0.03, noise: float = 0.02
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Class map (H, W), instance map (H, W) and photo (3, H, W) in [-1, 1] of a layout.

    Each class has one colour (:data:`COLOURS`), each block a jitter of up to ``jitter``
    per channel; every instance-boundary pixel on a block is set to ``seam_value``; Gaussian
    noise of std ``noise`` over everything."""
    cls = torch.zeros(height, width, dtype=torch.long)
    inst = torch.zeros(height, width, dtype=torch.long)
    photo = torch.empty(3, height, width)
    photo[:] = torch.tensor(COLOURS[0]).view(3, 1, 1)
    k = 0
    for y0, y1, c, blocks in layout.rows:
        for x0, x1 in blocks:
            cls[y0:y1, x0:x1] = c
            inst[y0:y1, x0:x1] = c * INSTANCE_OFFSET + k
            tint = torch.tensor([rs.uniform(-jitter, jitter) for _ in range(3)])
            photo[:, y0:y1, x0:x1] = (torch.tensor(COLOURS[c]) + tint).view(3, 1, 1)
            k += 1
    seam = _edges(inst) & (cls > 0)
    photo[:, seam] = seam_value
    photo += noise * torch.randn(photo.shape, generator=rs.generator)
    return cls, inst, to_signed(photo)


class SyntheticBlocks(SyntheticPairs):
    """Rows of touching same-class blocks, 2:1: label map + instance map -> photo.

    See the module docstring. ``ds[i]`` returns ``"A"`` (3, H, W) the colour-coded label
    image, ``"B"`` (3, H, W) the photo, ``"class_map"`` and ``"instance_map"`` (int64 (H, W))
    and ``"index"``; :meth:`layout` gives the blocks and seams of a sample.

    Args:
        image_size, split, seed, length: as :class:`~course_lib.data.SyntheticPairs` (an int
            is the height; the width is twice that).
        rows: ``(low, high)`` rows per scene (3, 4).
        blocks_per_row: ``(low, high)`` touching blocks per row (3, 6); fewer where the
            drawn widths do not fit.
        block_width: ``(low, high)`` block width in height units (0.19, 0.44: 12 to 28 px at
            64 px high).
        min_contacts: at least this many same-class contacts per scene (8).
        seam_value: brightness of the seams in [0, 1] (0.05, near black).
        jitter: per-block colour jitter per channel (0.03).
        noise: std of the Gaussian pixel noise (0.02).
    """

    dataset_name: ClassVar[str] = "blocks"
    class_names: ClassVar[tuple[str, ...]] = CLASS_NAMES
    palette: ClassVar[tuple[tuple[int, int, int], ...]] = PALETTE
    aspect: ClassVar[int] = 2
    thing_classes: ClassVar[tuple[int, ...]] = (1, 2)

    def __init__(self, image_size: int | tuple[int, int] = 64, split: str = "train",
                 seed: int = 0, length: int | None = None, rows: tuple[int, int] = (3, 4),
                 blocks_per_row: tuple[int, int] = (3, 6),
                 block_width: tuple[float, float] = (0.19, 0.44), min_contacts: int = 8,
                 seam_value: float = 0.05, jitter: float = 0.03, noise: float = 0.02) -> None:
        super().__init__(image_size, split, seed, length)
        self.rows = _pair(rows, "rows", int, 1)
        self.blocks_per_row = _pair(blocks_per_row, "blocks_per_row", int, 1)
        self.block_width = _pair(block_width, "block_width", float, 0.01)
        if isinstance(min_contacts, bool) or not isinstance(min_contacts, int) \
                or min_contacts < 0:
            raise ValueError(f"min_contacts must be an int >= 0, got {min_contacts!r}")
        most = self.rows[1] * (self.blocks_per_row[1] - 1)
        if min_contacts > most:
            raise ValueError(f"min_contacts={min_contacts} is more than rows={self.rows} of "
                             f"blocks_per_row={self.blocks_per_row} can hold ({most})")
        min_px = max(3, round(self.block_width[0] * self.height))
        if min_px > self.width - 2:
            raise ValueError(f"block_width={self.block_width} gives blocks of at least "
                             f"{min_px} px, wider than the {self.width} px image")
        if self.rows[1] * 4 > self.height:
            raise ValueError(f"rows={self.rows} do not fit {self.height} px: each row needs "
                             f"at least 3 px and a gap")
        for name, v, hi in (("seam_value", seam_value, 1.0), ("jitter", jitter, 0.5),
                            ("noise", noise, 0.5)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                    or not 0 <= v <= hi:
                raise ValueError(f"{name} must be a number in [0, {hi}], got {v!r}")
        if seam_value > min(min(c) for c in COLOURS[1:]) - 0.2:
            raise ValueError(f"seam_value={seam_value} is too close to the blocks' colours "
                             f"for a visible seam (use at most "
                             f"{min(min(c) for c in COLOURS[1:]) - 0.2:.2f})")
        self.min_contacts = min_contacts
        self.seam_value, self.jitter, self.noise = float(seam_value), float(jitter), float(noise)

    def layout(self, index: int) -> BlocksLayout:
        """The blocks of sample ``index`` (pixels at this dataset's size)."""
        index = self._check_index(index)
        return block_layout(self.stream(index, "layout"), self.height, self.width, self.rows,
                            self.blocks_per_row, self.block_width, self.min_contacts)

    def make_sample(self, index: int) -> dict[str, Any]:
        cls, inst, photo = render_blocks(self.layout(index), self.stream(index, "photo"),
                                         self.height, self.width, self.seam_value, self.jitter,
                                         self.noise)
        return {"A": self.colorize(cls), "B": photo, "class_map": cls, "instance_map": inst,
                "index": index}

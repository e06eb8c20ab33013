"""Procedural paired datasets: the shared base class and drawing helpers.

pix2pix (Isola et al., CVPR 2017) learns a mapping from an input image A to a target image B
from aligned pairs (Sec. 3, Eq. 1-4) and evaluates it on labels -> photo, edges -> photo and
similar pairs (Sec. 4, Table 1); pix2pixHD (Wang et al., CVPR 2018, Sec. 3.3) adds instance
maps; BicycleGAN (Zhu et al., NeurIPS 2017, Sec. 3) asks for *several* plausible B per A.
The course builds its own paired data so that each of these points can be shown offline and
measured exactly: every sample carries the ground truth (class map, instance map, mode id)
that the evaluation needs.

This module holds what the three datasets share:

* :class:`SyntheticPairs`, a ``torch.utils.data.Dataset`` with fixed ``train``/``val``/``test``
  splits, a ``seed``, a ``length`` and any ``image_size``. Sample ``i`` is generated from its
  own random stream, seeded by ``(dataset, seed, split, i, purpose)``, so it is the same every
  time, whatever order the samples are read in and in whichever worker process.
* :class:`RandomStream`, cheap scalar draws (layout decisions) backed by a ``torch.Generator``.
* Vectorised drawing helpers: pixel grids, rectangles, polygons, smooth noise, erosion and
  dilation, run coordinates inside rectangles. Geometry is given in *height units* (the image
  height is 1, the width is ``W / H``), so one layout renders at any resolution.

The datasets themselves live in ``facades.py``, ``shapes.py`` and ``streets.py``.
"""
from __future__ import annotations

import hashlib
import math
import operator
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

__all__ = [
    "SPLITS",
    "DEFAULT_LENGTHS",
    "MIN_SIZE",
    "SyntheticPairs",
    "RandomStream",
    "sample_seed",
    "parse_image_size",
    "pixel_grid",
    "box_spans",
    "fill_rect",
    "rasterise_polygons",
    "smooth_noise",
    "dilate",
    "erode",
    "run_coordinates",
    "jet_palette",
    "to_signed",
]

SPLITS: tuple[str, ...] = ("train", "val", "test")
DEFAULT_LENGTHS: dict[str, int] = {"train": 400, "val": 100, "test": 100}
MIN_SIZE = 16  # smallest side in pixels; the course uses 32 px and up


# --------------------------------------------------------------------------- seeding


def sample_seed(dataset: str, seed: int, split: str, index: int, purpose: str = "") -> int:
    """A 63-bit seed for one sample's random stream.

    The key ``(dataset, seed, split, index, purpose)`` is hashed (BLAKE2b), so the streams of
    different splits, indices and purposes are unrelated, and sample ``i`` never depends on
    which samples were generated before it.
    """
    key = f"{dataset}|{seed}|{split}|{index}|{purpose}".encode()
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


class RandomStream:
    """Scalar random draws for layout decisions, backed by a seeded ``torch.Generator``.

    Drawing a Python float from torch one at a time costs microseconds per call, and a layout
    makes hundreds of small decisions. The stream therefore draws uniforms in blocks and hands
    them out one by one; the result depends only on the seed. Use :attr:`generator` for
    tensor-valued noise (``torch.rand(..., generator=stream.generator)``).
    """

    _BLOCK = 256

    def __init__(self, seed: int | None = None,
                 generator: torch.Generator | None = None) -> None:
        if (seed is None) == (generator is None):
            raise ValueError("RandomStream needs exactly one of seed and generator")
        self.generator = generator if generator is not None else \
            torch.Generator().manual_seed(int(seed))
        self._buffer: list[float] = []
        self._pos = 0

    def random(self) -> float:
        """A uniform float in [0, 1)."""
        if self._pos >= len(self._buffer):
            self._buffer = torch.rand(self._BLOCK, generator=self.generator,
                                      dtype=torch.float64).tolist()
            self._pos = 0
        value = self._buffer[self._pos]
        self._pos += 1
        return value

    def uniform(self, low: float, high: float) -> float:
        """A uniform float in [low, high)."""
        return low + (high - low) * self.random()

    def integer(self, low: int, high: int) -> int:
        """A uniform integer in [low, high] (both ends included)."""
        return low + min(int(self.random() * (high - low + 1)), high - low)

    def chance(self, p: float) -> bool:
        """True with probability ``p``."""
        return self.random() < p

    def normal(self, mean: float = 0.0, std: float = 1.0) -> float:
        """A Gaussian draw (Box-Muller from two uniforms)."""
        u1 = max(self.random(), 1e-12)
        u2 = self.random()
        return mean + std * math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)

    def choice(self, options: Sequence[Any]) -> Any:
        """One element of ``options``, uniformly."""
        return options[self.integer(0, len(options) - 1)]


# --------------------------------------------------------------------------- sizes


def _check_side(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = operator.index(value)
        except TypeError:
            raise ValueError(
                f"{what} must be an integer number of pixels, got {value!r}"
            ) from None
    if value < MIN_SIZE or value % 2:
        raise ValueError(
            f"{what} must be an even number of pixels >= {MIN_SIZE}, got {value!r}; "
            "use e.g. 32, 64, 128 or 256"
        )
    return int(value)


def parse_image_size(image_size: Any, aspect: int = 1) -> tuple[int, int]:
    """``image_size`` as ``(height, width)``.

    An int is the height; the width is ``aspect * height`` (1 for square datasets, 2 for the
    2:1 street scenes). A ``(height, width)`` pair is taken as it is. Each side must be an
    even number of pixels, at least 16.
    """
    if isinstance(image_size, (tuple, list)):
        if len(image_size) != 2:
            raise ValueError(
                f"image_size must be an int or a (height, width) pair, got {image_size!r}"
            )
        h = _check_side(image_size[0], f"image_size height in {tuple(image_size)!r}")
        w = _check_side(image_size[1], f"image_size width in {tuple(image_size)!r}")
        return h, w
    h = _check_side(image_size, "image_size")
    return h, aspect * h


# --------------------------------------------------------------------------- drawing helpers


def to_signed(image01: torch.Tensor) -> torch.Tensor:
    """Map an image from [0, 1] to the [-1, 1] range that the generators output (tanh)."""
    return image01.clamp(0.0, 1.0).mul(2.0).sub(1.0)


def pixel_grid(height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates in height units: ``ys`` (H, 1) in (0, 1), ``xs`` (1, W).

    The two tensors broadcast against each other to (H, W) without allocating it.
    """
    ys = (torch.arange(height, dtype=torch.float32) + 0.5).div_(height).view(height, 1)
    xs = (torch.arange(width, dtype=torch.float32) + 0.5).div_(height).view(1, width)
    return ys, xs


def box_spans(boxes: Sequence[Sequence[float]], height: int,
              width: int) -> list[tuple[int, int, int, int]]:
    """Pixel index ranges ``(r0, c0, r1, c1)`` of boxes ``(y0, x0, y1, x1)`` in height units.

    Coordinates are rounded to the nearest pixel edge and clipped to the image; a box that
    is thinner than a pixel but not empty keeps one pixel, so sills and cornices survive at
    32 px.
    """
    spans = []
    for y0, x0, y1, x1 in boxes:
        r0, c0, r1, c1 = (min(max(round(t * height), 0), limit)
                          for t, limit in ((y0, height), (x0, width), (y1, height), (x1, width)))
        # A box thinner than a pixel keeps one pixel if it lies inside the image.
        if r1 <= r0 and y1 > y0 and y1 * height > 0 and y0 * height < height:
            r0 = min(r0, height - 1)
            r1 = r0 + 1
        if c1 <= c0 and x1 > x0 and x1 * height > 0 and x0 * height < width:
            c0 = min(c0, width - 1)
            c1 = c0 + 1
        spans.append((r0, c0, r1, c1))
    return spans


def fill_rect(canvas: torch.Tensor, y0: float, x0: float, y1: float, x1: float,
              value: float | int | torch.Tensor) -> None:
    """Fill the box [y0, y1) x [x0, x1) (height units) of ``canvas`` (..., H, W) in place.

    See :func:`box_spans` for the rounding. ``value`` may be a scalar or a tensor that
    broadcasts to the leading dimensions (e.g. an RGB colour of shape (3, 1, 1)).
    """
    h, w = canvas.shape[-2:]
    r0, c0, r1, c1 = box_spans([(y0, x0, y1, x1)], h, w)[0]
    if r1 > r0 and c1 > c0:
        canvas[..., r0:r1, c0:c1] = value


def rasterise_polygons(outlines: Sequence[Sequence[tuple[float, float]] | np.ndarray],
                       height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Scan-convert many closed polygons at once (even-odd rule at pixel centres).

    The classic scanline algorithm, vectorised over all polygons and rows: for every row
    that a polygon spans, find where its edges cross the row's centre line, sort the
    crossings, and fill the pixels between the 1st and 2nd, the 3rd and 4th, ... crossing.
    Concave outlines (a car's wheel arches, a person's legs) work too. This runs on NumPy
    arrays of crossings and spans, so its cost hardly depends on how many polygons there are.

    Args:
        outlines: polygons, each ``(N, 2)`` array-like of ``(x, y)`` in height units.
        height, width: size of the image in pixels.

    Returns:
        ``(pixels, polygon)``: flat indices ``row * width + col`` of the covered pixels and
        the index of the polygon covering each one (a pixel appears once per polygon that
        covers it; polygons come in the given order).
    """
    if len(outlines) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    n_edges = max(len(o) for o in outlines)
    verts = np.empty((len(outlines), n_edges, 2))
    for i, o in enumerate(outlines):  # pad by repeating the last vertex: empty edges
        o = np.asarray(o, dtype=np.float64)
        verts[i, :len(o)] = o
        verts[i, len(o):] = o[-1]
    verts *= height  # pixels
    nxt = np.roll(verts, -1, axis=1)  # edge e runs from verts[:, e] to nxt[:, e]
    top = np.clip(np.floor(verts[..., 1].min(1)), 0, height).astype(np.int64)
    bottom = np.clip(np.ceil(verts[..., 1].max(1)), 0, height).astype(np.int64)
    n_rows = bottom - top
    # One entry per (polygon, row) pair.
    poly = np.repeat(np.arange(len(outlines)), n_rows)  # (R,)
    row = np.repeat(top, n_rows) + np.arange(len(poly)) - np.repeat(np.cumsum(n_rows) - n_rows,
                                                                     n_rows)
    py = (row + 0.5)[:, None]  # (R, 1) the row's centre line
    a, b = verts[poly], nxt[poly]  # (R, E, 2)
    crosses = (a[..., 1] > py) != (b[..., 1] > py)  # (R, E)
    dy = np.where(crosses, b[..., 1] - a[..., 1], 1.0)
    x_cross = np.where(crosses, a[..., 0] + (py - a[..., 1]) * (b[..., 0] - a[..., 0]) / dy,
                       np.inf)
    x_cross.sort(axis=1)  # crossings left to right, the non-crossing edges (inf) last
    if n_edges % 2:
        x_cross = np.concatenate([x_cross, np.full((len(poly), 1), np.inf)], 1)
    start, stop = x_cross[:, 0::2], x_cross[:, 1::2]  # (R, E/2) inside spans
    ok = np.isfinite(stop)
    # Pixels whose centre c + 0.5 lies strictly inside (start, stop).
    first = np.clip(np.floor(np.where(ok, start, 0) - 0.5) + 1, 0, width).astype(np.int64)
    last = np.clip(np.ceil(np.where(ok, stop, 0) - 0.5) - 1, -1, width - 1).astype(np.int64)
    count = np.where(ok, np.maximum(last - first + 1, 0), 0).ravel()
    span_row = np.repeat(row, start.shape[1])
    span_poly = np.repeat(poly, start.shape[1])
    offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    cols = np.repeat(first.ravel(), count) + offset
    pixels = np.repeat(span_row, count) * width + cols
    return pixels, np.repeat(span_poly, count)


def smooth_noise(generator: torch.Generator, height: int, width: int, cells: float,
                 channels: int = 1, waves: int = 12) -> torch.Tensor:
    """Smooth random field (C, H, W), zero mean, standard deviation about 0.5.

    A sum of ``waves`` plane waves with random directions, phases and frequencies of about
    ``cells / 2`` cycles per image height (so about ``cells`` light and dark blotches per
    height): a cheap stand-in for Perlin noise (blotches, clouds, lighting). Each wave
    ``cos(a(y) + b(x))`` splits into ``cos a cos b - sin a sin b``, so the whole field is one
    small matrix product, whatever the resolution.
    """
    r = torch.rand(3, channels, waves, generator=generator)
    angle = 2 * math.pi * r[0]
    freq = 2 * math.pi * (cells / 2) * (0.6 + 0.8 * r[1])  # radians per image height
    phase = 2 * math.pi * r[2]
    ys = (torch.arange(height, dtype=torch.float32) + 0.5) / height  # (H,)
    xs = (torch.arange(width, dtype=torch.float32) + 0.5) / height  # (W,)
    a = (freq * angle.sin())[..., None] * ys + phase[..., None]  # (C, K, H)
    b = (freq * angle.cos())[..., None] * xs  # (C, K, W)
    left = torch.cat([a.cos(), -a.sin()], 1).transpose(1, 2)  # (C, H, 2K)
    right = torch.cat([b.cos(), b.sin()], 1)  # (C, 2K, W)
    return (left @ right) * (0.5 * math.sqrt(2.0 / waves))


def _max_filter(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Max over a (2r+1) x (2r+1) square, as two 1-D passes (rows, then columns)."""
    k = 2 * radius + 1
    x = F.max_pool2d(x, (k, 1), stride=1, padding=(radius, 0))
    return F.max_pool2d(x, (1, k), stride=1, padding=(0, radius))


def dilate(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Binary dilation of a (H, W) or (N, H, W) mask by a square of side ``2 radius + 1``."""
    if radius <= 0:
        return mask.bool()
    x = mask.float()
    x = x[None, None] if x.dim() == 2 else x[:, None]
    y = _max_filter(x, radius)
    return y[0, 0].bool() if mask.dim() == 2 else y[:, 0].bool()


def erode(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Binary erosion: the complement of the dilation of the complement (outside counts as
    background, so objects touching the border erode from it too)."""
    if radius <= 0:
        return mask.bool()
    x = mask.float()
    x = x[None, None] if x.dim() == 2 else x[:, None]
    y = -_max_filter(-F.pad(x, (radius,) * 4, value=0.0), radius)
    y = y[..., radius:-radius, radius:-radius]
    return y[0, 0].bool() if mask.dim() == 2 else y[:, 0].bool()


def run_coordinates(labels: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Relative position of each pixel inside its horizontal and vertical run of equal labels.

    For a label map made of axis-aligned rectangles (windows, doors) this gives texture
    coordinates ``u`` (left edge 0 -> right edge 1) and ``v`` (top 0 -> bottom 1) inside
    every rectangle without knowing where the rectangles are: enough to draw frames, panels
    and shading from the label map alone. A run is a maximal stretch of one row (for ``u``)
    or one column (for ``v``) where the label does not change.

    Args:
        labels: (H, W) integer or bool map.

    Returns:
        ``(u, v, run_width, run_height)``: four float (H, W) tensors, the relative
        coordinates of each pixel centre in (0, 1) and the lengths in pixels of its runs.
    """

    def along_rows(lab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = lab.shape[-1]
        idx = torch.arange(n).expand_as(lab)
        change = torch.ones_like(lab, dtype=torch.bool)
        change[:, 1:] = lab[:, 1:] != lab[:, :-1]  # a run starts here
        start = torch.where(change, idx, torch.zeros_like(idx)).cummax(-1).values
        rev = change.roll(-1, -1)  # a run ends at the pixel before the next start
        rev[:, -1] = True
        end_f = torch.where(rev.flip(-1), idx, torch.zeros_like(idx)).cummax(-1).values
        stop = n - end_f.flip(-1)  # one past the run's last pixel
        length = (stop - start).float()
        return ((idx - start).float() + 0.5) / length, length

    u, run_w = along_rows(labels)
    v, run_h = along_rows(labels.t().contiguous())
    return u, v.t(), run_w, run_h.t()


def jet_palette(n: int) -> tuple[tuple[int, int, int], ...]:
    """``n`` colours along a jet-like colour map (dark blue, cyan, yellow, red), as 0-255 RGB.

    The CMP facade labels that pix2pix trains on are coloured this way.
    """
    colours = []
    for i in range(n):
        t = (i + 0.5) / n
        r = min(max(1.5 - abs(4 * t - 3), 0.0), 1.0)
        g = min(max(1.5 - abs(4 * t - 2), 0.0), 1.0)
        b = min(max(1.5 - abs(4 * t - 1), 0.0), 1.0)
        colours.append((round(255 * r), round(255 * g), round(255 * b)))
    return tuple(colours)


# --------------------------------------------------------------------------- the base class


class SyntheticPairs(Dataset):
    """Base class of the procedural paired datasets.

    Args:
        image_size: image height in pixels (even, >= 16), or a ``(height, width)`` pair.
            The width is ``aspect * height`` for an int (``aspect`` is 1, or 2 for streets).
        split: ``"train"``, ``"val"`` or ``"test"``. The splits draw from unrelated seeds.
        seed: selects a different, equally valid dataset.
        length: number of samples; default 400 for train, 100 for val and test.

    ``ds[i]`` is a dict with at least ``"A"`` (input, float32 (3, H, W) in [-1, 1]),
    ``"B"`` (target, float32 (3, H, W) in [-1, 1]), ``"index"`` (int) and ``"class_map"``
    (int64 (H, W)). Subclasses set ``dataset_name``, ``class_names``, ``palette`` and
    implement :meth:`make_sample`.
    """

    dataset_name: ClassVar[str] = "synthetic"
    class_names: ClassVar[tuple[str, ...]] = ()
    num_classes: ClassVar[int] = 0
    palette: ClassVar[tuple[tuple[int, int, int], ...]] = ()
    aspect: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.num_classes = len(cls.class_names)
        if len(cls.palette) != len(cls.class_names):
            raise TypeError(f"{cls.__name__}: palette and class_names differ in length")

    def __init__(self, image_size: int | tuple[int, int] = 64, split: str = "train",
                 seed: int = 0, length: int | None = None) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be an int, got {seed!r}")
        if length is None:
            length = DEFAULT_LENGTHS[split]
        elif isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise ValueError(f"length must be a positive int (or None), got {length!r}")
        self.height, self.width = parse_image_size(image_size, self.aspect)
        self.image_size = image_size
        self.split = split
        self.seed = seed
        self.length = length

    # ---- Dataset protocol

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.make_sample(self._check_index(index))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(image_size={self.image_size!r}, split={self.split!r}, "
                f"seed={self.seed}, length={self.length})")

    def _check_index(self, index: Any) -> int:
        try:
            i = operator.index(index)
        except TypeError:
            raise TypeError(f"dataset index must be an int, got {index!r}") from None
        if i < 0:
            i += self.length
        if not 0 <= i < self.length:
            raise IndexError(f"index {index} is out of range for {self!r}")
        return i

    # ---- randomness

    def stream(self, index: int, purpose: str) -> RandomStream:
        """The random stream of sample ``index`` for one ``purpose`` ("layout", "photo" ...)."""
        return RandomStream(sample_seed(self.dataset_name, self.seed, self.split, index,
                                        purpose))

    # ---- to be implemented

    def make_sample(self, index: int) -> dict[str, Any]:
        """Generate sample ``index`` (already range-checked)."""
        raise NotImplementedError

    # ---- label images

    @classmethod
    def palette_tensor(cls) -> torch.Tensor:
        """The palette as a float (num_classes, 3) tensor in [0, 1]."""
        return torch.tensor(cls.palette, dtype=torch.float32) / 255.0

    @classmethod
    def colorize(cls, class_map: torch.Tensor) -> torch.Tensor:
        """Colour-code a class map: (H, W) -> (3, H, W), or (N, H, W) -> (N, 3, H, W), in [-1, 1].

        This is the label image that the generator sees as its input A.
        """
        cm = torch.as_tensor(class_map)
        if cm.dtype.is_floating_point or cm.dim() not in (2, 3):
            raise ValueError(
                f"colorize expects an integer class map of shape (H, W) or (N, H, W), "
                f"got dtype {cm.dtype} and shape {tuple(cm.shape)}"
            )
        if cm.numel() and (int(cm.min()) < 0 or int(cm.max()) >= cls.num_classes):
            raise ValueError(
                f"class map values must lie in [0, {cls.num_classes - 1}] for "
                f"{cls.__name__}, found [{int(cm.min())}, {int(cm.max())}]"
            )
        rgb = cls.palette_tensor()[cm.long()]  # (..., H, W, 3)
        return to_signed(rgb.movedim(-1, -3).contiguous())

    @classmethod
    def labels_from_colors(cls, image: torch.Tensor) -> torch.Tensor:
        """Invert :meth:`colorize`: nearest palette colour per pixel.

        ``image`` is (3, H, W) or (N, 3, H, W) in [-1, 1]; returns int64 (H, W) or (N, H, W).
        Useful for label maps painted by hand or saved as PNG.
        """
        x = (torch.as_tensor(image, dtype=torch.float32) + 1.0) / 2.0
        pal = cls.palette_tensor()  # (K, 3)
        d = (x.movedim(-3, -1).unsqueeze(-2) - pal).square().sum(-1)  # (..., H, W, K)
        return d.argmin(-1)

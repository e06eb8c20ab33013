"""Checkers for notebook 00 (paired data): the paired random jitter of pix2pix Sec. 6.2.

The checker does not ask for one resize method: any of the usual interpolations
(``course_lib.data.jitter.resize``, ``F.interpolate`` bilinear/bicubic/nearest/area, with or
without ``align_corners`` or antialiasing) is accepted. It locates each output as a crop of the
resized image (and whether, and how, it was mirrored), then checks over 200 draws that the two
images always share one crop and one flip, that every valid offset occurs (top and left drawn
separately), and that the mirror happens about half the time.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F

from course_lib.data.jitter import paired_jitter as reference_paired_jitter
from course_lib.data.jitter import resize
from course_lib.exercises.core import expect, run_check

__all__ = ["check_paired_jitter"]

PairedJitter = Callable[..., tuple[torch.Tensor, torch.Tensor]]

_DRAWS = 200


class _Where(NamedTuple):
    method: str
    top: int
    left: int
    flip: str   # "none", "left-right", "up-down", "both"


def _resized(x: torch.Tensor, size: int) -> dict[str, torch.Tensor]:
    """``x`` resized to ``size`` by every interpolation a learner is likely to use."""
    out = {"course_lib resize (bicubic)": resize(x, size)}
    for mode in ("bilinear", "bicubic"):
        for ac in (False, True):
            out[f"{mode}, align_corners={ac}"] = F.interpolate(
                x[None], size=(size, size), mode=mode, align_corners=ac)[0]
        out[f"{mode}, antialias"] = F.interpolate(x[None], size=(size, size), mode=mode,
                                                  align_corners=False, antialias=True)[0]
    for mode in ("nearest", "nearest-exact", "area"):
        out[mode] = F.interpolate(x[None], size=(size, size), mode=mode)[0]
    return out


_FLIPS = {"none": lambda t: t, "left-right": lambda t: t.flip(-1),
          "up-down": lambda t: t.flip(-2), "both": lambda t: t.flip(-1).flip(-2)}


def _locate(out: torch.Tensor, bigs: dict[str, torch.Tensor]) -> _Where | None:
    """Which resize, crop offset and mirror turn the input into ``out`` (None: none does)."""
    c = out.shape[-1]
    for method, big in bigs.items():
        n = big.shape[-1] - c + 1
        if n < 1 or out.shape[-2] != c or out.shape[0] != big.shape[0]:
            continue
        windows = big.unfold(1, c, 1).unfold(2, c, 1)        # (C, n, n, c, c)
        for name, flip in _FLIPS.items():
            diff = (windows - flip(out)[:, None, None]).abs().amax(dim=(0, 3, 4))   # (n, n)
            hit = (diff < 1e-4).nonzero()
            if len(hit):
                return _Where(method, int(hit[0, 0]), int(hit[0, 1]), name)
    return None


def _where(out: torch.Tensor, x: torch.Tensor, bigs: dict[str, torch.Tensor], load: int,
           crop: int, side: str) -> _Where:
    found = _locate(out, bigs)
    if found is None:
        if _locate(out, {"none": x}) is not None:
            expect(False, f"the {side}'s output is a crop of the original image, not of the image "
                          f"resized to load_size={load}: resize first, then crop, then flip")
        expect(False, f"the {side}'s output is not a crop of the {side} resized to "
                      f"load_size={load} (tried bicubic, bilinear, nearest and area resizing, "
                      f"mirrored or not): resize to load_size x load_size, then take a "
                      f"crop_size x crop_size window, then mirror left-right if the coin says so")
    assert found is not None
    expect(found.flip not in ("up-down", "both"),
           f"the {side} was mirrored {'upside down' if found.flip == 'up-down' else 'on both axes'}"
           ": pix2pix mirrors left-right only, x.flip(-1) (the last axis is the width); "
           "a facade upside down is not a facade")
    return found


def _check(fn: PairedJitter) -> str:
    load, crop = 12, 8
    n = load - crop + 1
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(3, 10, 10, generator=gen) * 2 - 1
    b = torch.rand(3, 10, 10, generator=gen) * 2 - 1
    bigs_a, bigs_b = _resized(a, load), _resized(b, load)

    out_a, out_b = fn(a, b, load, crop, generator=torch.Generator().manual_seed(1))
    expect(tuple(out_a.shape) == (3, crop, crop) and tuple(out_b.shape) == (3, crop, crop),
           f"with load_size={load}, crop_size={crop} both outputs should have shape "
           f"(3, {crop}, {crop}); got {tuple(out_a.shape)} and {tuple(out_b.shape)}")
    first = _where(out_a, a, bigs_a, load, crop, "input")
    # Later draws: try the learner's resize first (fast), the others after.
    bigs_a = {first.method: bigs_a[first.method], **bigs_a}
    bigs_b = {first.method: bigs_b[first.method], **bigs_b}

    tops, lefts, flips, same_corner = [], [], [], 0
    g = torch.Generator().manual_seed(2)
    for _ in range(_DRAWS):
        x, y = fn(a, b, load, crop, generator=g)
        wa = _where(x, a, bigs_a, load, crop, "input")
        wb = _where(y, b, bigs_b, load, crop, "target")
        expect((wa.top, wa.left) == (wb.top, wb.left),
               "input and target got different crops: draw top and left once and crop both "
               "images at that corner")
        expect(wa.flip == wb.flip, "input and target were not mirrored together: draw the coin "
                                   "once and flip both or neither")
        tops.append(wa.top)
        lefts.append(wa.left)
        flips.append(wa.flip == "left-right")
        same_corner += wa.top == wa.left

    rate = sum(flips) / _DRAWS
    expect(rate > 0, "the output is never mirrored: flip left-right with probability 0.5")
    expect(rate < 1, "the output is always mirrored: flip only when the coin says so, "
                     "torch.rand(1, generator=generator) < 0.5")
    expect(0.35 <= rate <= 0.65,
           f"the output was mirrored in {rate:.0%} of {_DRAWS} draws: flip with probability "
           f"0.5, torch.rand(1, generator=generator) < 0.5")
    offsets = set(tops) | set(lefts)
    expect(len(offsets) > 1, "the crop position never changes: pick a random top/left offset")
    expect(same_corner < _DRAWS,
           "top and left are always equal: the crop only moves along the diagonal. Draw top and "
           "left separately")
    for name, values in (("top", tops), ("left", lefts)):
        seen = set(values)
        expect(n - 1 in seen,
               f"in {_DRAWS} draws `{name}` never took its largest valid value, "
               f"load_size - crop_size = {n - 1}: torch.randint's upper bound is exclusive, so "
               f"draw torch.randint(0, load_size - crop_size + 1, (1,), generator=generator)")
        expect(0 in seen, f"in {_DRAWS} draws `{name}` was never 0: every offset from 0 to "
                          f"load_size - crop_size is a valid crop")
        expect(seen == set(range(n)),
               f"`{name}` took only the values {sorted(seen)} in {_DRAWS} draws; every offset "
               f"from 0 to {n - 1} should occur (uniformly)")
        counts = [values.count(v) for v in range(n)]
        expect(min(counts) >= _DRAWS / n / 3,
               f"`{name}` is far from uniform over 0..{n - 1} (counts {counts} in {_DRAWS} "
               "draws): draw it with torch.randint")

    # Reproducible for a fixed generator seed, whatever the global random state.
    torch.manual_seed(123)
    r1 = fn(a, b, load, crop, generator=torch.Generator().manual_seed(5))
    torch.manual_seed(456)
    r2 = fn(a, b, load, crop, generator=torch.Generator().manual_seed(5))
    expect(torch.equal(r1[0], r2[0]) and torch.equal(r1[1], r2[1]),
           "two calls with identically seeded generators differ: draw every random number "
           "from the `generator` argument (torch.randint(..., generator=generator), "
           "torch.rand(1, generator=generator)), not from the global random state")
    return (f"one crop and one left-right flip for both images, every offset 0..{n - 1}, "
            f"mirrored in {rate:.0%} of {_DRAWS} draws")


def check_paired_jitter(fn: PairedJitter) -> PairedJitter:
    """Check ``fn(a, b, load_size, crop_size, generator=...) -> (a', b')``."""
    return run_check("paired jitter", fn, reference_paired_jitter, _check)

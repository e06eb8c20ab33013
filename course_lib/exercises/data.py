"""Checkers for notebook 00 (paired data): the paired random jitter of pix2pix Sec. 6.2."""
from __future__ import annotations

from typing import Callable

import torch

from course_lib.data.jitter import paired_jitter as reference_paired_jitter
from course_lib.data.jitter import resize
from course_lib.exercises.core import expect, run_check

__all__ = ["check_paired_jitter"]

PairedJitter = Callable[..., tuple[torch.Tensor, torch.Tensor]]


def _is_crop_of(out: torch.Tensor, big: torch.Tensor) -> bool:
    """Is ``out`` equal to some crop of ``big``, mirrored or not?"""
    c = out.shape[-1]
    n = big.shape[-1] - c + 1
    for top in range(n):
        for left in range(n):
            window = big[..., top:top + c, left:left + c]
            if torch.allclose(window, out, atol=1e-5) or torch.allclose(window.flip(-1), out,
                                                                        atol=1e-5):
                return True
    return False


def _check(fn: PairedJitter) -> str:
    load, crop = 12, 8
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(3, 10, 10, generator=gen) * 2 - 1
    b = torch.rand(3, 10, 10, generator=gen) * 2 - 1
    big_a, big_b = resize(a, load), resize(b, load)

    out_a, out_b = fn(a, b, load, crop, generator=torch.Generator().manual_seed(1))
    expect(tuple(out_a.shape) == (3, crop, crop) and tuple(out_b.shape) == (3, crop, crop),
           f"with load_size={load}, crop_size={crop} both outputs should have shape "
           f"(3, {crop}, {crop}); got {tuple(out_a.shape)} and {tuple(out_b.shape)}")
    expect(_is_crop_of(out_a, big_a),
           "the input's output is not a crop (or mirrored crop) of the input resized to "
           "load_size: resize first, then crop, then flip")
    expect(_is_crop_of(out_b, big_b), "the target's output is not a crop of the resized target")

    # Same image on both sides -> the same crop and flip must give identical outputs.
    offsets, flips = set(), set()
    g = torch.Generator().manual_seed(2)
    ramp = torch.arange(10.0).repeat(10, 1)[None].expand(3, 10, 10).contiguous() / 10
    for _ in range(40):
        x, y = fn(a, a.clone(), load, crop, generator=g)
        expect(torch.equal(x, y), "input and target got different crops or flips: draw the "
               "random parameters once and apply them to both images")
        r, _ = fn(ramp, ramp, load, crop, generator=g)
        flips.add(bool(r[0, 0, 0] > r[0, 0, -1]))
        offsets.add(round(float(r[0, 0].min()), 4))
    expect(len(flips) == 2, "the output is never (or always) mirrored: flip with probability 0.5")
    expect(len(offsets) > 2, "the crop position never changes: pick a random top/left offset")

    # Reproducible for a fixed generator seed.
    r1 = fn(a, b, load, crop, generator=torch.Generator().manual_seed(5))
    r2 = fn(a, b, load, crop, generator=torch.Generator().manual_seed(5))
    expect(torch.equal(r1[0], r2[0]) and torch.equal(r1[1], r2[1]),
           "two calls with identically seeded generators differ: draw every random number "
           "from the `generator` argument")
    return "same crop and flip on both sides, random offsets, flips about half the time"


def check_paired_jitter(fn: PairedJitter) -> PairedJitter:
    """Check ``fn(a, b, load_size, crop_size, generator=...) -> (a', b')``."""
    return run_check("paired jitter", fn, reference_paired_jitter, _check)

"""Checker for notebook 03: the receptive-field recurrence (pix2pix Sec. 3.2.2, PatchGAN)."""
from __future__ import annotations

import random
from typing import Callable, Sequence

from course_lib.exercises.core import expect, run_check
from course_lib.models.receptive_field import field_of_layers

__all__ = ["check_receptive_field"]

FieldFn = Callable[[Sequence[tuple[int, int]]], tuple[int, int]]

# (layers, what they are) with answers a learner can verify by hand.
_KNOWN: tuple[tuple[list[tuple[int, int]], str], ...] = (
    ([], "no layer at all"),
    ([(1, 1)], "one 1x1 convolution (the PixelGAN's layers)"),
    ([(3, 1)], "one 3x3 convolution"),
    ([(3, 1), (3, 1)], "two 3x3 convolutions"),
    ([(4, 2), (4, 1), (4, 1)], "the 16x16 PatchGAN (n_layers=1)"),
    ([(4, 2)] * 3 + [(4, 1)] * 2, "the 70x70 PatchGAN (n_layers=3)"),
    ([(4, 2)] * 5 + [(4, 1)] * 2, "the 286x286 PatchGAN (n_layers=5)"),
)


def _check(fn: FieldFn) -> str:
    for layers, what in _KNOWN:
        want = tuple(field_of_layers(layers))
        got = fn(list(layers))
        expect(isinstance(got, (tuple, list)) and len(got) == 2,
               f"return a pair (size, stride); for {what} you returned {got!r}")
        got = (int(got[0]), int(got[1]))
        if got[1] != want[1]:
            expect(False, f"for {what} the stride (jump) should be {want[1]}, you returned "
                          f"{got[1]}: the jump is the product of all strides so far")
        expect(got[0] == want[0],
               f"for {what} the receptive field should be {want[0]}, you returned {got[0]}. "
               "Each layer adds (kernel - 1) times the jump of the layers BEFORE it")
    rng = random.Random(0)
    for _ in range(200):
        layers = [(rng.randint(1, 7), rng.randint(1, 3)) for _ in range(rng.randint(1, 8))]
        want = tuple(field_of_layers(layers))
        got = tuple(int(v) for v in fn(list(layers)))
        expect(got == want, f"for layers {layers} expected (size, stride) = {want}, got {got}")
    return "known PatchGANs and 200 random stacks"


def check_receptive_field(fn: FieldFn) -> FieldFn:
    """Check ``fn(layers) -> (size, stride)`` for ``layers`` a list of ``(kernel, stride)``."""
    return run_check("receptive field", fn, lambda layers: tuple(field_of_layers(layers)),
                     _check)

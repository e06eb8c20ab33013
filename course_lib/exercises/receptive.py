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


def _prod(values: Sequence[int]) -> int:
    out = 1
    for v in values:
        out *= v
    return out


def _forward(layers: Sequence[tuple[int, int]], start: int = 1, jump_first: bool = False,
             use_jump: bool = True, add_kernel: bool = False) -> tuple[int, int]:
    size, jump = start, 1
    for kernel, stride in layers:
        if jump_first:
            jump *= stride
        size += (kernel if add_kernel else kernel - 1) * (jump if use_jump else 1)
        if not jump_first:
            jump *= stride
    return size, jump


def _backward_no_minus_one(layers: Sequence[tuple[int, int]]) -> tuple[int, int]:
    size = 1
    for kernel, stride in reversed(layers):
        size = size * stride + kernel
    return size, _prod([s for _, s in layers])


# Typical wrong answers, each with the hint that names it.
_MISTAKES: tuple[tuple[Callable[[Sequence[tuple[int, int]]], tuple[int, int]], str], ...] = (
    (lambda L: _forward(L, jump_first=True),
     "you multiply the jump by a layer's stride BEFORE adding that layer's kernel. A layer's "
     "kernel is spread by the jump of the layers before it (its own stride only affects the "
     "layers after it): add (kernel - 1) * jump first, then jump *= stride"),
    (lambda L: _forward(L, use_jump=False),
     "you add (kernel - 1) without multiplying it by the jump: after a stride-2 layer, one step "
     "of the next kernel covers 2 input pixels, after two such layers 4. Keep jump = product of "
     "the strides so far and add (kernel - 1) * jump"),
    (lambda L: _forward(L, start=0),
     "off by one: start from a field of 1 (with no layer, an output pixel sees exactly one "
     "input pixel), then add (kernel - 1) * jump per layer"),
    (lambda L: _forward(L, start=0, add_kernel=True),
     "each layer adds (kernel - 1) * jump, not kernel * jump: a 3x3 kernel widens the field "
     "by 2 pixels (1 on each side), so start from 1 and add kernel - 1"),
    (lambda L: _forward(L, add_kernel=True),
     "each layer adds (kernel - 1) * jump, not kernel * jump: a 3x3 kernel widens a field of 1 "
     "to 3, not to 4"),
    (lambda L: _forward(list(reversed(L))),
     "you run the forward recurrence from the last layer to the first. Either go from the input "
     "side (the first layer) to the output, or use the backward form from the last layer: "
     "size = (size - 1) * stride + kernel"),
    (_backward_no_minus_one,
     "the backward recurrence is size = (size - 1) * stride + kernel, not size * stride + "
     "kernel: the field of one output pixel is 1, and stepping back through a layer maps "
     "size pixels to (size - 1) * stride + kernel"),
    (lambda L: (_forward(L)[0], sum(s for _, s in L) if L else 1),
     "the stride (jump) of the stack is the PRODUCT of the strides, not their sum: two "
     "stride-2 layers move 4 input pixels per output pixel"),
    (lambda L: (_prod([k for k, _ in L]), _prod([s for _, s in L])),
     "the field is not the product of the kernels: each layer adds (kernel - 1) * jump"),
)


def _name_mistake(fn: FieldFn, cases: list[list[tuple[int, int]]]) -> str | None:
    """The hint of the typical mistake that ``fn`` reproduces on every case, if any."""
    answers = []
    for layers in cases:
        try:
            got = fn(list(layers))
            answers.append((int(got[0]), int(got[1])))
        except Exception:  # noqa: BLE001 - a crash is reported by the main check
            return None
    if all(a == (w[1], w[0]) for a, w in
           zip(answers, (tuple(field_of_layers(L)) for L in cases))):
        return "you return (stride, size); return (size, stride)"
    for wrong, hint in _MISTAKES:
        if all(a == tuple(wrong(L)) for a, L in zip(answers, cases)):
            return hint
    return None


def _check(fn: FieldFn) -> str:
    rng = random.Random(0)
    randoms = [[(rng.randint(1, 7), rng.randint(1, 3)) for _ in range(rng.randint(1, 8))]
               for _ in range(200)]
    cases = [list(layers) for layers, _ in _KNOWN] + randoms
    for layers, what in _KNOWN:
        want = tuple(field_of_layers(layers))
        got = fn(list(layers))
        expect(isinstance(got, (tuple, list)) and len(got) == 2,
               f"return a pair (size, stride); for {what} you returned {got!r}")
        got = (int(got[0]), int(got[1]))
        if got != want:
            hint = _name_mistake(fn, cases) or (
                "each layer adds (kernel - 1) times the jump of the layers BEFORE it, and the "
                "jump is the product of all strides so far")
            expect(False, f"for {what} (layers {layers}) expected (size, stride) = {want}, you "
                          f"returned {got}: the receptive field should be {want[0]}. {hint}")
    for layers in randoms:
        want = tuple(field_of_layers(layers))
        got = tuple(int(v) for v in fn(list(layers)))
        if got != want:
            hint = _name_mistake(fn, cases) or ""
            expect(False, f"for layers {layers} expected (size, stride) = {want}, got {got}. "
                          f"{hint}".strip())
    return "known PatchGANs and 200 random stacks"


def check_receptive_field(fn: FieldFn) -> FieldFn:
    """Check ``fn(layers) -> (size, stride)`` for ``layers`` a list of ``(kernel, stride)``."""
    return run_check("receptive field", fn, lambda layers: tuple(field_of_layers(layers)),
                     _check)

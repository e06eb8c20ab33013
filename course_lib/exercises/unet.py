"""Checker for notebook 02: the forward pass of one U-Net level (pix2pix Sec. 3.2.1)."""
from __future__ import annotations

from typing import Any

import torch

from course_lib.exercises.core import expect, run_check
from course_lib.models.unet import UNetBlock, UNetGenerator

__all__ = ["check_unet_block"]


def _pair(block: type[UNetBlock], skip: bool) -> tuple[UNetGenerator, UNetGenerator]:
    kwargs: dict[str, Any] = dict(num_downs=4, ngf=4, use_dropout=False, skip=skip)
    torch.manual_seed(0)
    ref = UNetGenerator(**kwargs)
    mine = UNetGenerator(block=block, **kwargs)
    mine.load_state_dict(ref.state_dict())
    return ref, mine


def _check(block: type[UNetBlock]) -> str:
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    for skip in (True, False):
        what = "the U-Net (skip=True)" if skip else "the encoder-decoder (skip=False)"
        ref, mine = _pair(block, skip)
        level = UNetBlock(8, 16, skip=skip)                # one innermost level, alone
        probe = block(8, 16, skip=skip)
        probe.load_state_dict(level.state_dict())
        h = torch.rand(2, 8, 8, 8, generator=torch.Generator().manual_seed(2))
        want_shape = tuple(level(h).shape)
        got_shape = tuple(probe(h).shape)
        if skip:
            expect(got_shape == want_shape,
                   f"a level of {what} with 8 input channels should return "
                   f"{want_shape} (its input concatenated with its output along dim=1), got "
                   f"{got_shape}")
        else:
            expect(got_shape == want_shape,
                   f"without skips a level should return only its output, {want_shape}; got "
                   f"{got_shape}: concatenate only when self.skip is True")
        out_ref, out_mine = ref(x), mine(x)
        expect(out_mine.shape == out_ref.shape,
               f"{what} should map (2, 3, 32, 32) to {tuple(out_ref.shape)}, got "
               f"{tuple(out_mine.shape)}: the outermost level returns the image, never a "
               "concatenation")
        if skip:
            want, got = level(h), probe(h)
            swapped = torch.cat([want[:, 8:], want[:, :8]], 1)
            expect(not torch.allclose(got, swapped, atol=1e-5),
                   "you concatenate (output, input); the layers expect (input, output): "
                   "torch.cat([x, y], dim=1)")
        if not torch.allclose(out_mine, out_ref, atol=1e-5):
            expect(False, f"{what} gives different outputs from the reference with the same "
                          "weights: go down (self.down), through the deeper levels (self.inner, "
                          "if not None), up (self.up), then concatenate x and y if self.skip "
                          "and not self.outermost")
    return "U-Net and encoder-decoder match the reference with the same weights"


def check_unet_block(block: type[UNetBlock]) -> type[UNetBlock]:
    """Check a :class:`~course_lib.models.UNetBlock` subclass whose ``forward`` the learner wrote."""
    return run_check("U-Net block", block, UNetBlock, _check)

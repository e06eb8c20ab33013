"""Checker for notebook 02: the forward pass of one U-Net level (pix2pix Sec. 3.2.1)."""
from __future__ import annotations

from typing import Any

import torch

from course_lib.exercises.core import ExerciseFailed, expect, run_check
from course_lib.models.unet import UNetBlock, UNetGenerator

__all__ = ["check_unet_block"]


def _pair(block: type[UNetBlock], skip: bool) -> tuple[UNetGenerator, UNetGenerator]:
    kwargs: dict[str, Any] = dict(num_downs=4, ngf=4, use_dropout=False, skip=skip)
    torch.manual_seed(0)
    ref = UNetGenerator(**kwargs)
    mine = UNetGenerator(block=block, **kwargs)
    mine.load_state_dict(ref.state_dict())
    return ref, mine


def _run(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``module(x)``, with PyTorch's errors said in the exercise's words."""
    try:
        return module(x)
    except TypeError as err:
        if "NoneType" in str(err) and "callable" in str(err):
            raise ExerciseFailed("the innermost level has no deeper level (self.inner is None): "
                                 "call self.inner only when it is not None") from err
        raise
    except RuntimeError as err:
        if "channels" in str(err):
            raise ExerciseFailed(
                f"a layer got the wrong number of channels (PyTorch: \"{str(err)[:110]}\"). "
                "The order is self.down, then self.inner (if not None), then self.up, then the "
                "concatenation: with skips a deeper level returns twice its channels, which is "
                "what self.up expects") from err
        raise


class _Spy(torch.nn.Module):
    """A deeper level that records whether the learner's level called it."""

    def __init__(self, inner: UNetBlock) -> None:
        super().__init__()
        self.inner, self.calls = inner, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.inner(x)


def _calls_inner(block: type[UNetBlock], skip: bool) -> None:
    torch.manual_seed(0)
    spy = _Spy(UNetBlock(16, 32, skip=skip))
    probe = block(8, 16, spy, skip=skip)
    h = torch.rand(2, 8, 8, 8, generator=torch.Generator().manual_seed(3))
    try:
        _run(probe, h)
    except NotImplementedError:
        raise
    except Exception:
        if spy.calls == 0:
            raise ExerciseFailed("self.inner (the deeper levels) is never called: go down "
                                 "(self.down), through self.inner if it is not None, then up "
                                 "(self.up)") from None
        raise
    expect(spy.calls == 1, f"self.inner was called {spy.calls} times: call it once, "
                           "between self.down and self.up")


def _grads(model: torch.nn.Module, x: torch.Tensor, weight: torch.Tensor
           ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    xg = x.clone().requires_grad_(True)
    model.zero_grad(set_to_none=True)
    (_run(model, xg) * weight).sum().backward()
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in model.parameters()]
    assert xg.grad is not None
    return xg.grad, grads


def _check(block: type[UNetBlock]) -> str:
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    for skip in (True, False):
        what = "the U-Net (skip=True)" if skip else "the encoder-decoder (skip=False)"
        _calls_inner(block, skip)
        ref, mine = _pair(block, skip)
        level = UNetBlock(8, 16, skip=skip)                # one innermost level, alone
        probe = block(8, 16, skip=skip)
        probe.load_state_dict(level.state_dict())
        h = torch.rand(2, 8, 8, 8, generator=torch.Generator().manual_seed(2))
        want_shape = tuple(level(h).shape)
        got_shape = tuple(_run(probe, h).shape)
        if skip:
            expect(got_shape == want_shape,
                   f"a level of {what} with 8 input channels should return "
                   f"{want_shape} (its input concatenated with its output along dim=1), got "
                   f"{got_shape}")
        else:
            expect(got_shape == want_shape,
                   f"without skips a level should return only its output, {want_shape}; got "
                   f"{got_shape}: concatenate only when self.skip is True")
        out_ref, out_mine = ref(x), _run(mine, x)
        expect(out_mine.shape == out_ref.shape,
               f"{what} should map (2, 3, 32, 32) to {tuple(out_ref.shape)}, got "
               f"{tuple(out_mine.shape)}: the outermost level returns the image, never a "
               "concatenation")
        if skip:
            want, got = level(h), _run(probe, h)
            swapped = torch.cat([want[:, 8:], want[:, :8]], 1)
            expect(not torch.allclose(got, swapped, atol=1e-5),
                   "you concatenate (output, input); the layers expect (input, output): "
                   "torch.cat([x, y], dim=1)")
        if not torch.allclose(out_mine, out_ref, atol=1e-5):
            expect(False, f"{what} gives different outputs from the reference with the same "
                          "weights: go down (self.down), through the deeper levels (self.inner, "
                          "if not None), up (self.up), then concatenate x and y if self.skip "
                          "and not self.outermost")
        # Same outputs; now the backward pass: the skip must carry gradients to the encoder.
        weight = torch.randn(out_ref.shape, generator=torch.Generator().manual_seed(4))
        gx_ref, g_ref = _grads(ref, x, weight)
        gx_mine, g_mine = _grads(mine, x, weight)
        same = torch.allclose(gx_mine, gx_ref, atol=1e-5) and all(
            torch.allclose(a, b, atol=1e-5) for a, b in zip(g_mine, g_ref))
        expect(same, f"{what} computes the right outputs, but its gradients differ from the "
                     "reference's: something is cut off from the backward pass (x.detach(), "
                     "y.detach(), .data or torch.no_grad()). The skip must carry gradients "
                     "back to the encoder: that is half of what a skip is for")
    return "U-Net and encoder-decoder match the reference, outputs and gradients"


def check_unet_block(block: type[UNetBlock]) -> type[UNetBlock]:
    """Check a :class:`~course_lib.models.UNetBlock` subclass whose ``forward`` the learner wrote."""
    return run_check("U-Net block", block, UNetBlock, _check)

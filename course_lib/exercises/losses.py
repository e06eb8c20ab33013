"""Checkers for notebook 01 (the conditional GAN objective, pix2pix Eq. 1, Sec. 3.1 and 3.3).

The exercise is the vanilla GAN loss on D's logits, ``gan_loss(prediction, target_is_real)``:
binary cross-entropy between ``sigmoid(prediction)`` and a target of 1 (real) or 0 (fake),
averaged over every element of the patch map, computed without overflow for large logits.

The exercise is to write that stable form, so the checker refuses an answer that calls
PyTorch's ``binary_cross_entropy_with_logits`` (directly, through ``nn.BCEWithLogitsLoss`` or
through the course's ``GANLoss``): it watches ``torch.binary_cross_entropy_with_logits``, which
all of them reach, while the learner's function runs. ``softplus``, ``logsigmoid`` and
``logaddexp`` are allowed: they are the building blocks the notebook names.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

import torch

from course_lib.exercises.core import expect, run_check
from course_lib.losses import GANLoss

__all__ = ["check_gan_loss", "reference_gan_loss"]

GanLossFn = Callable[[torch.Tensor, bool], torch.Tensor]

_VANILLA = GANLoss("vanilla")
_STABLE_HINT = ("compute it from the logits in a stable form: softplus(-x) for a real "
                "target and softplus(x) for a fake one, where softplus(z) = log(1 + exp(z)) is "
                "computed without overflow (torch.nn.functional.softplus, torch.logaddexp(0, z), "
                "or max(z, 0) + log1p(exp(-|z|)))")
_LIBRARY = ("your gan_loss calls PyTorch's binary_cross_entropy_with_logits (directly, through "
            "nn.BCEWithLogitsLoss or through course_lib's GANLoss): that is the function this "
            "exercise asks you to write. Write it from softplus or logaddexp, as the notebook "
            "explains; the library function is what the checker compares your answer with")


@contextmanager
def _watch_library(calls: list[int]) -> Iterator[None]:
    """Count calls of ``torch.binary_cross_entropy_with_logits`` while the learner's code runs."""
    original = torch.binary_cross_entropy_with_logits

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return original(*args, **kwargs)

    torch.binary_cross_entropy_with_logits = spy  # type: ignore[assignment]
    try:
        yield
    finally:
        torch.binary_cross_entropy_with_logits = original  # type: ignore[assignment]


def reference_gan_loss(prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
    """The reference: :class:`course_lib.losses.GANLoss` in ``"vanilla"`` mode."""
    return _VANILLA(prediction, target_is_real)


def _call(fn: GanLossFn, x: torch.Tensor, real: bool) -> torch.Tensor:
    out = fn(x, real)
    expect(isinstance(out, torch.Tensor),
           f"gan_loss should return a tensor, got {type(out).__name__}")
    expect(out.dim() == 0,
           f"gan_loss should return a scalar (0-dim) tensor, the mean over the patch map; got "
           f"shape {tuple(out.shape)} for a prediction of shape {tuple(x.shape)}")
    return out


def _check(learner: GanLossFn) -> str:
    library: list[int] = []

    def fn(x: torch.Tensor, real: bool) -> torch.Tensor:
        with _watch_library(library):
            out = learner(x, real)
        expect(not library, _LIBRARY)
        return out

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 1, 6, 6, generator=gen) * 3          # a batch of PatchGAN logit maps

    # Pure: the prediction is not changed in place.
    before = x.clone()
    fn(x, True)
    fn(x, False)
    expect(torch.equal(before, x), "gan_loss changed its input in place (a method ending in _, "
           "such as sigmoid_, or an assignment into the prediction); use out-of-place "
           "operations")

    # A mean, not a sum: a bigger map of the same values gives the same loss.
    small, big = torch.full((1, 1, 2, 2), 1.5), torch.full((4, 1, 8, 8), 1.5)
    expect(abs(float(_call(fn, small, True)) - float(_call(fn, big, True))) < 1e-5,
           "the loss changes with the size of the patch map: average over all elements "
           "(.mean()), do not sum")

    # Known values: at logit 0, D says 50/50 and both losses are log 2.
    zero = torch.zeros(1, 1, 3, 3)
    for real in (True, False):
        v = float(_call(fn, zero, real))
        expect(abs(v + 0.6931472) > 1e-5,
               f"gan_loss(zeros, {real}) = {v:.6f}: the sign is wrong. The loss is the NEGATIVE "
               f"log-likelihood, -log sigmoid(x) for a real target, positive and minimised")
        expect(abs(v - 0.6931472) < 1e-5,
               f"gan_loss(zeros, {real}) = {v:.6f}, expected log 2 = 0.693147: at logit 0, "
               f"sigmoid is 0.5 and -log(0.5) = log 2")

    for real in (True, False):
        mine = _call(fn, x.clone(), real)
        ref = reference_gan_loss(x, real)
        if torch.allclose(mine.float(), reference_gan_loss(x, not real), atol=1e-5):
            expect(False, "the targets are swapped: target_is_real=True means the target is 1, "
                          "loss -log sigmoid(x) = softplus(-x); False means 0, "
                          "-log(1 - sigmoid(x)) = softplus(x)")
        if torch.allclose(-mine.float(), ref, atol=1e-5):
            expect(False, "the sign is wrong: the loss is the NEGATIVE log-likelihood, positive "
                          "and minimised")
        expect(torch.allclose(mine.float(), ref, atol=1e-5),
               f"gan_loss(x, target_is_real={real}) = {float(mine):.6f}, expected "
               f"{float(ref):.6f}: -log sigmoid(x) for real targets, -log(1 - sigmoid(x)) for "
               f"fake ones, averaged over all elements")

    # Large logits: a confident D must give a large finite loss (or ~0), never inf or nan.
    large = torch.tensor([-1000.0, -100.0, -30.0, 0.5, 30.0, 100.0, 1000.0]).view(1, 1, 1, 7)
    for real in (True, False):
        mine = _call(fn, large, real)
        expect(bool(torch.isfinite(mine)),
               f"gan_loss(logits of +-1000, {real}) is {float(mine)}: sigmoid rounds to "
               f"exactly 0 or 1 and its log to -inf; {_STABLE_HINT}")
        ref = reference_gan_loss(large, real)
        expect(torch.allclose(mine.float(), ref, rtol=1e-4, atol=1e-4),
               f"for large logits gan_loss(x, {real}) = {float(mine):.4f}, expected "
               f"{float(ref):.4f} (clamping the probability is not enough: the loss of logit "
               f"-1000 with a real target is 1000); {_STABLE_HINT}")

    # Gradients flow back to D's logits, and they are right.
    for real in (True, False):
        xg = x.clone().requires_grad_(True)
        loss = _call(fn, xg, real)
        expect(loss.requires_grad, "the loss does not depend on the prediction in a "
               "differentiable way (did you call .item(), .detach() or build a new tensor?)")
        loss.backward()
        expect(xg.grad is not None and bool(torch.isfinite(xg.grad).all()),
               "no finite gradient reached the prediction")
        ref_x = x.clone().requires_grad_(True)
        reference_gan_loss(ref_x, real).backward()
        expect(torch.allclose(xg.grad, ref_x.grad, atol=1e-6),  # type: ignore[arg-type]
               f"the gradient with respect to the logits is wrong (target_is_real={real}); "
               f"it should be (sigmoid(x) - target) / number of elements")
        xl = large.clone().requires_grad_(True)
        _call(fn, xl, real).backward()
        expect(xl.grad is not None and bool(torch.isfinite(xl.grad).all()),
               f"for logits of +-1000 the gradient is not finite; {_STABLE_HINT}")

    return "matches course_lib.losses.GANLoss('vanilla'), stable for logits of +-1000"


def check_gan_loss(fn: GanLossFn) -> GanLossFn:
    """Check ``fn(prediction, target_is_real) -> scalar`` against the vanilla ``GANLoss``."""
    return run_check("vanilla GAN loss", fn, reference_gan_loss, _check)

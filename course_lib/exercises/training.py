"""Checker for notebook 04: pix2pix's training step (Isola et al. 2017, Eq. 4 and Sec. 3.3).

What the checker compares, and why:

* **the losses** of each step against the reference :func:`pix2pix_step` run on copies of the
  same networks with the same random numbers (``loss_D`` is the *halved* D loss, ``loss_G``
  G's *total* loss, GAN term plus ``lambda_l1`` times L1), with a named diagnosis for each
  typical slip (D's loss not halved, labels swapped, the pair concatenated the wrong way round,
  the saturating G loss, L2 instead of L1, ``lambda_l1`` ignored, ...);
* **the update each network receives**, with a plain SGD optimizer, so that the step is the
  gradient times the learning rate. (Adam divides by the square root of the gradient's second
  moment: on its first step it moves every weight by about ``lr`` whatever the gradient's size,
  which turns a harmless rounding difference of 1e-7, such as ``softplus`` instead of
  ``binary_cross_entropy_with_logits``, into a visible weight difference.)
* **how often G runs and how often gradients reach G**: the test generator has dropout, so a
  second ``G(real_a)`` gives a different output from the one D judged; and without ``detach``
  in the D step, gradients flow into G twice (PyTorch then suggests ``retain_graph=True``,
  which hides the mistake instead of fixing it).

The step is tried with two values of ``lambda_l1`` (100, the paper's, and 10) so that a
hard-coded 100 is caught. PyTorch's autograd errors are translated into what went wrong.
"""
from __future__ import annotations

import copy
from typing import Callable

import torch
import torch.nn.functional as F

from course_lib.exercises.core import ExerciseFailed, expect, run_check
from course_lib.models import PatchDiscriminator, UNetGenerator
from course_lib.train.pix2pix import pix2pix_step

__all__ = ["check_training_step"]

StepFn = Callable[..., dict]

_LR = 0.05                       # plain SGD: the update is exactly -lr * gradient
_LAMBDAS = (100.0, 10.0, 100.0)  # the paper's lambda, then another one: a hard-coded 100 fails


def _flat(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def _setup(seed: int) -> tuple[UNetGenerator, PatchDiscriminator, list[dict[str, torch.Tensor]]]:
    """A tiny U-Net *with dropout* (so a second G call differs), a 16x16 PatchGAN, 3 batches."""
    torch.manual_seed(seed)
    G = UNetGenerator(num_downs=3, ngf=4, use_dropout=True)
    D = PatchDiscriminator(in_channels=6, ndf=4, n_layers=1)
    g = torch.Generator().manual_seed(seed + 1)
    batches = [{"A": torch.rand(2, 3, 16, 16, generator=g) * 2 - 1,
                "B": torch.rand(2, 3, 16, 16, generator=g) * 2 - 1} for _ in range(3)]
    return G, D, batches


def _bce(x: torch.Tensor, real: bool) -> float:
    return float(F.binary_cross_entropy_with_logits(x, torch.full_like(x, float(real))))


def _close(a: float, b: float, tol: float = 1e-5) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(b))


_AUTOGRAD_HINTS = (
    ("backward through the graph a second time",
     "the G step went back through the part of the graph (through G) that the D step's "
     "backward had already freed. The cause is a fake that is not detached in the D step: "
     "use D(torch.cat([real_a, fake_b.detach()], dim=1)) there. Do not follow PyTorch's advice "
     "to add retain_graph=True: it hides the mistake (D's loss would still send gradients into "
     "G) instead of fixing it"),
    ("modified by an inplace operation",
     "a tensor that a backward pass needs was changed in place, usually because opt_D.step() "
     "ran between computing a D output and calling backward on a loss built from it: compute "
     "G's adversarial loss from a fresh D(torch.cat([real_a, fake_b], dim=1)) AFTER the D step"),
    ("does not require grad and does not have a grad_fn",
     "the loss you called backward() on is not connected to the weights: do not detach the "
     "fake (or use torch.no_grad()) in the G step, and call .item() only on the returned "
     "numbers, never before backward()"),
)


def _translate(err: RuntimeError) -> ExerciseFailed | None:
    text = str(err)
    for needle, hint in _AUTOGRAD_HINTS:
        if needle in text:
            return ExerciseFailed(f"PyTorch raised \"{text.splitlines()[0][:90]}...\": {hint}")
    if "channels" in text and ("expected input" in text or "to have" in text):
        return ExerciseFailed(
            f"PyTorch raised \"{text.splitlines()[0][:120]}\": the conditional D takes the input "
            "and an output concatenated along the channels (6 channels here), "
            "torch.cat([real_a, real_b], dim=1) or torch.cat([real_a, fake_b], dim=1)")
    return None


def _diagnose_d(loss_d: float, want: float, D0: torch.nn.Module, a: torch.Tensor,
                b: torch.Tensor, fake: torch.Tensor) -> None:
    """Name the mistake when the reported D loss differs from the reference's."""
    if _close(loss_d, want):
        return
    with torch.no_grad():
        p_real, p_fake = D0(torch.cat([a, b], 1)), D0(torch.cat([a, fake], 1))
        q_real, q_fake = D0(torch.cat([b, a], 1)), D0(torch.cat([fake, a], 1))
    named = [
        (2 * want, "loss_D is twice the reference: halve D's loss, 0.5 * (loss on real + loss on "
                   "fake), which slows D down relative to G (Sec. 3.3)"),
        (0.5 * (_bce(p_real, False) + _bce(p_fake, True)),
         "D's labels are swapped: the pair (input, target) is real (target True), the pair "
         "(input, G(input)) is fake (target False)"),
        (0.5 * (_bce(q_real, True) + _bce(q_fake, False)),
         "D's pairs are concatenated as (output, input): the layers expect (input, output), "
         "torch.cat([real_a, real_b], dim=1) and torch.cat([real_a, fake_b], dim=1)"),
        (_bce(p_real, True), "loss_D has only the real pair's term: add the fake pair's "
                             "term and halve the sum"),
        (_bce(p_fake, False), "loss_D has only the fake pair's term: add the real pair's "
                              "term and halve the sum"),
        (0.5 * _bce(p_real, True), "loss_D has only the real pair's term (halved): add the "
                                   "fake pair's"),
        (0.5 * _bce(p_fake, False), "loss_D has only the fake pair's term (halved): add the "
                                    "real pair's"),
    ]
    for value, message in named:
        if _close(loss_d, value):
            raise ExerciseFailed(message)
    raise ExerciseFailed(
        f"loss_D = {loss_d:.5f}, expected {want:.5f}: D should see (input, target) as real and "
        "(input, G(input)) as fake, each concatenated along the channels, with the vanilla GAN "
        "loss, and report the halved loss 0.5 * (real term + fake term)")


def _diagnose_g(loss_g: float, want: float, lam: float, D1: torch.nn.Module, a: torch.Tensor,
                b: torch.Tensor, fake: torch.Tensor) -> None:
    """Name the mistake when the reported G loss differs from the reference's."""
    if _close(loss_g, want):
        return
    with torch.no_grad():
        pred = D1(torch.cat([a, fake], 1))
        gan, sat = _bce(pred, True), -_bce(pred, False)
        l1, l2 = float((fake - b).abs().mean()), float(((fake - b) ** 2).mean())
        l1_sum = float((fake - b).abs().sum())
    named = [
        (gan + other * l1, f"loss_G uses lambda = {other:g} although the step was called with "
                           f"lambda_l1={lam:g}: use the lambda_l1 argument, do not hard-code it")
        for other in (10.0, 100.0, 1000.0) if other != lam]
    named += [
        (gan, "loss_G is only the GAN term: add lambda_l1 * L1(G(input), target) (Eq. 4), and "
              "report G's total loss"),
        (lam * l1, "loss_G is only the L1 term: add the GAN term, the loss of D on the fake "
                   "pair with target 'real' (Eq. 4)"),
        (gan + l1, "the L1 term is not weighted: loss_G = GAN term + lambda_l1 * L1 (Eq. 4)"),
        (sat + lam * l1, "that is the saturating G loss, log(1 - D(x, G(x))), which gives G "
                         "almost no gradient when D wins; use the non-saturating form: the GAN "
                         "loss of D on the fake pair with target 'real' (Sec. 3.3)"),
        (gan + lam * l2, "that is the L2 (mean squared) distance; pix2pix uses L1, which blurs "
                         "less (Sec. 3.1): (fake - target).abs().mean()"),
        (gan + lam * l1_sum, "the L1 term is summed: use the mean absolute difference, "
                             "(fake - target).abs().mean() or F.l1_loss"),
    ]
    for value, message in named:
        if _close(loss_g, value):
            raise ExerciseFailed(message)
    raise ExerciseFailed(
        f"loss_G = {loss_g:.5f} with lambda_l1={lam:g}, expected {want:.5f}: G's loss is the "
        "non-saturating GAN loss of the UPDATED D on the fake pair with target 'real', plus "
        "lambda_l1 times the mean absolute difference to the target; report this total")


def _update_close(got: torch.Tensor, want: torch.Tensor) -> bool:
    return float((got - want).norm()) <= 1e-3 * float(want.norm()) + 1e-7


def _check(fn: StepFn) -> str:
    G, D, batches = _setup(0)
    G_ref, D_ref = copy.deepcopy(G), copy.deepcopy(D)
    opt_G = torch.optim.SGD(G.parameters(), lr=_LR)
    opt_D = torch.optim.SGD(D.parameters(), lr=_LR)
    ref_G = torch.optim.SGD(G_ref.parameters(), lr=_LR)
    ref_D = torch.optim.SGD(D_ref.parameters(), lr=_LR)

    g_calls = [0]
    g_grads = [0]
    G.register_forward_hook(lambda *args: g_calls.__setitem__(0, g_calls[0] + 1))
    first = next(G.parameters())
    first.register_hook(lambda grad: g_grads.__setitem__(0, g_grads[0] + 1))

    for k, (batch, lam) in enumerate(zip(batches, _LAMBDAS)):
        a, b = batch["A"], batch["B"]
        D0 = copy.deepcopy(D_ref)
        g_before, d_before = _flat(G_ref), _flat(D_ref)
        with torch.random.fork_rng():
            torch.manual_seed(100 + k)
            fake = G_ref(a).detach()                  # the output D judges in the reference
        with torch.random.fork_rng():
            torch.manual_seed(100 + k)
            want = pix2pix_step(G_ref, D_ref, ref_G, ref_D, a, b, lambda_l1=lam)
        want_dG = _flat(G_ref) - g_before
        want_dD = _flat(D_ref) - d_before

        mine_g, mine_d = _flat(G), _flat(D)
        g_calls[0] = g_grads[0] = 0
        with torch.random.fork_rng():
            torch.manual_seed(100 + k)
            try:
                got = fn(G, D, opt_G, opt_D, a, b, lambda_l1=lam)
            except RuntimeError as err:
                translated = _translate(err)
                if translated is None:
                    raise
                raise translated from err
        expect(isinstance(got, dict) and "loss_D" in got and "loss_G" in got,
               "return a dict with at least 'loss_D' (D's halved loss) and 'loss_G' (G's total "
               "loss), as floats (loss.item())")
        expect(all(p.requires_grad for p in D.parameters()),
               "D's parameters are left frozen (requires_grad=False) after your step: unfreeze "
               "them at the end with D.requires_grad_(True), or the next D step cannot learn")
        expect(g_calls[0] <= 1,
               f"G ran {g_calls[0]} times in one step: compute fake_b = G(real_a) once and use "
               "it in both halves (detached for D). With dropout, as in pix2pix, a second call "
               "gives a different image from the one D was trained on")
        _diagnose_d(float(got["loss_D"]), want["loss_D"], D0, a, b, fake)

        d_update, g_update = _flat(D) - mine_d, _flat(G) - mine_g
        if not _update_close(d_update, want_dD):
            if _update_close(d_update, 2 * want_dD):
                expect(False, "D's update is twice the reference's: call backward on the "
                              "halved loss 0.5 * (real term + fake term), and step opt_D once")
            if float(d_update.norm()) == 0.0:
                expect(False, "D did not change: call loss_D.backward() and opt_D.step()")
            expect(False, f"D's update in step {k + 1} differs from the reference although the "
                          "losses match: call opt_D.zero_grad() before D's backward (otherwise "
                          "the last step's gradients are added), and step opt_D once, from the "
                          "D loss only")
        _diagnose_g(float(got["loss_G"]), want["loss_G"], lam, D_ref, a, b, fake)
        expect(g_grads[0] <= 1,
               "gradients reached G twice in one step: the fake is not detached in the D step, "
               "so D's loss also back-propagates into G. Use fake_b.detach() for D (and no "
               "retain_graph=True)")
        if not _update_close(g_update, want_dG):
            if float(g_update.norm()) == 0.0:
                expect(False, "G did not change: call loss_G.backward() and opt_G.step()")
            expect(False, f"G's update in step {k + 1} differs from the reference although the "
                          "losses match: call opt_G.zero_grad() before G's backward, and step "
                          "opt_G once, from G's total loss")
    return ("losses, both updates, one G call and one backward into G per step match the "
            "reference over 3 steps (lambda_l1 = 100 and 10)")


def check_training_step(fn: StepFn) -> StepFn:
    """Check ``fn(G, D, opt_G, opt_D, real_a, real_b, lambda_l1=100.0) -> dict``.

    The dict holds ``loss_D`` (D's halved loss) and ``loss_G`` (G's total loss) as floats.
    """
    return run_check("pix2pix training step", fn, pix2pix_step, _check)

"""Checker for notebook 04: pix2pix's training step (Isola et al. 2017, Eq. 4 and Sec. 3.3)."""
from __future__ import annotations

import copy
from typing import Callable

import torch

from course_lib.exercises.core import expect, run_check
from course_lib.models import PatchDiscriminator, UNetGenerator
from course_lib.train.pix2pix import Pix2Pix, Pix2PixConfig, pix2pix_step

__all__ = ["check_training_step"]

StepFn = Callable[..., dict]


def _flat(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def _setup(seed: int) -> tuple[UNetGenerator, PatchDiscriminator, list[dict[str, torch.Tensor]]]:
    torch.manual_seed(seed)
    G = UNetGenerator(num_downs=3, ngf=4, use_dropout=False)     # no dropout: deterministic
    D = PatchDiscriminator(in_channels=6, ndf=4, n_layers=1)
    g = torch.Generator().manual_seed(seed + 1)
    batches = [{"A": torch.rand(2, 3, 16, 16, generator=g) * 2 - 1,
                "B": torch.rand(2, 3, 16, 16, generator=g) * 2 - 1} for _ in range(3)]
    return G, D, batches


def _check(fn: StepFn) -> str:
    G, D, batches = _setup(0)
    ref = Pix2Pix(copy.deepcopy(G), copy.deepcopy(D), Pix2PixConfig(steps=10))
    betas = (0.5, 0.999)
    opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=betas)
    opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=betas)
    for k, batch in enumerate(batches):
        want = ref.train_step(batch)
        got = fn(G, D, opt_G, opt_D, batch["A"], batch["B"])
        expect(isinstance(got, dict) and "loss_D" in got and "loss_G" in got,
               "return a dict with at least 'loss_D' and 'loss_G' (as floats)")
        expect(all(p.requires_grad for p in D.parameters()),
               "D's parameters are left frozen (requires_grad=False) after your step: unfreeze "
               "them at the end with D.requires_grad_(True), or the next D step cannot learn")
        loss_d, loss_g = float(got["loss_D"]), float(got["loss_G"])
        if k == 0:
            if abs(loss_d - 2 * want["loss_D"]) < 1e-4 * max(1.0, want["loss_D"]):
                expect(False, "loss_D is twice the reference: halve D's loss, "
                              "0.5 * (loss on real + loss on fake) (Sec. 3.3)")
            expect(abs(loss_d - want["loss_D"]) < 1e-4 * max(1.0, want["loss_D"]),
                   f"on the first batch loss_D = {loss_d:.5f}, expected {want['loss_D']:.5f}: D "
                   "should see (input, target) as real and (input, G(input)) as fake, each "
                   "concatenated along the channels, with the vanilla GAN loss")
            if abs(loss_g - want["loss_G_GAN"]) < 1e-4 * max(1.0, want["loss_G"]):
                expect(False, "loss_G is only the GAN term: add lambda_l1 * L1(G(input), "
                              "target) (Eq. 4)")
            expect(abs(loss_g - want["loss_G"]) < 1e-4 * max(1.0, want["loss_G"]),
                   f"on the first batch loss_G = {loss_g:.5f}, expected {want['loss_G']:.5f}: "
                   "G's loss is the non-saturating GAN loss of D on the fake pair with target "
                   "'real', plus lambda_l1 (100) times the L1 distance to the target")
        d_ok = torch.allclose(_flat(D), _flat(ref.D), atol=1e-6, rtol=1e-5)
        g_ok = torch.allclose(_flat(G), _flat(ref.G), atol=1e-6, rtol=1e-5)
        expect(d_ok, f"after step {k + 1} D's weights differ from the reference: update D once "
                     "per step with opt_D, from the D loss only. If the losses match, check that "
                     "the fake is detached in the D step and that opt_D.zero_grad() is called "
                     "before D's backward (the G step must not leave gradients in D)")
        expect(g_ok, f"after step {k + 1} G's weights differ from the reference: call "
                     "opt_G.zero_grad() before G's backward, compute G(input) once, and update G "
                     "once per step with opt_G from the G loss")
    return "losses and both networks' weights match the reference over 3 steps"


def check_training_step(fn: StepFn) -> StepFn:
    """Check ``fn(G, D, opt_G, opt_D, real_a, real_b, lambda_l1=100.0) -> dict``."""
    return run_check("pix2pix training step", fn, pix2pix_step, _check)

"""Checkers for notebook 06: BicycleGAN (Zhu et al., NeurIPS 2017).

* :func:`check_reparameterization` -- z = mu + exp(logvar / 2) * eps and the closed-form KL to
  N(0, I) (Sec. 3.2, Eq. 4; Kingma & Welling 2014);
* :func:`check_latent_regression` -- ||z - E(G(A, z))||_1 with E frozen, so that only G learns
  from it (Sec. 3.3-3.4);
* :func:`check_hybrid_generator_loss` -- the loss of G and E in the hybrid model (Eq. 8, without
  the latent term).
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from course_lib.exercises.core import expect, run_check
from course_lib.losses import GANLoss, kl_divergence, l1_loss
from course_lib.models.bicyclegan import LatentEncoder, reparameterize
from course_lib.train.bicyclegan import (hybrid_generator_loss, latent_regression_loss,
                                         multiscale_gan_loss)

__all__ = ["check_reparameterization", "check_latent_regression", "check_hybrid_generator_loss"]

Fn = Callable[..., torch.Tensor]


def _close(a: torch.Tensor | float, b: torch.Tensor | float, tol: float = 1e-4) -> bool:
    a = float(a.detach()) if isinstance(a, torch.Tensor) else float(a)
    b = float(b.detach()) if isinstance(b, torch.Tensor) else float(b)
    return abs(a - b) <= tol * max(1.0, abs(b))


# --------------------------------------------------------------------------- reparameterization


def _check_reparameterization(fns: tuple[Fn, Fn]) -> str:
    reparam, kl = fns
    # Reparameterization: distribution, gradients, randomness from the global generator.
    n = 40000
    mu = torch.full((n, 2), 3.0, requires_grad=True)
    logvar = torch.full((n, 2), math.log(4.0), requires_grad=True)   # std 2
    torch.manual_seed(0)
    z = reparam(mu, logvar)
    expect(isinstance(z, torch.Tensor) and z.shape == mu.shape,
           f"reparameterize must return a tensor shaped like mu {tuple(mu.shape)}")
    zd = z.detach()
    if bool((zd == zd[:1]).all()):
        if torch.allclose(zd, mu.detach()):
            expect(False, "every sample equals mu: add exp(logvar / 2) * eps with "
                          "eps = torch.randn_like(mu)")
        expect(False, "every row of z is the same sample (they differ from mu but equal each "
                      "other): the whole batch shares one eps; draw one per element, "
                      "eps = torch.randn_like(mu)")
    expect(float(zd.std()) > 0.1, "the samples barely vary: z = mu + exp(logvar / 2) * eps "
                                  "with eps = torch.randn_like(mu)")
    mean, std = float(z.detach().mean()), float(z.detach().std())
    expect(abs(mean - 3.0) < 0.05, f"the samples' mean is {mean:.3f}, expected mu = 3: z = mu + "
                                   "std * eps with eps of mean 0")
    if abs(std - 4.0) < 0.1:
        expect(False, "the samples' std is 4 = exp(logvar): the standard deviation is "
                      "exp(logvar / 2), the square root of the variance")
    expect(abs(std - 2.0) < 0.05, f"the samples' std is {std:.3f}, expected exp(logvar / 2) = 2 "
                                  "(logvar is the log of the variance; draw eps from N(0, 1))")
    expect(z.requires_grad, "z has no gradient: compute it from mu and logvar with tensor "
                            "operations (no .detach(), no torch.normal(mu, std), which is not "
                            "differentiable)")
    z.sum().backward()
    expect(mu.grad is not None and logvar.grad is not None,
           "no gradient reaches mu or logvar: compute z from them with tensor operations (no "
           ".detach(), no torch.normal(mu, std), which is not differentiable)")
    if float(mu.grad.abs().sum()) == 0 and float(logvar.grad.abs().sum()) == 0:
        expect(False, "the gradient to mu and logvar is zero: z is sampled without the "
                      "reparameterisation trick (torch.normal(mu, std) and Normal(mu, std)"
                      ".sample() give no gradient to mu and std); write z = mu + "
                      "exp(logvar / 2) * eps with eps = torch.randn_like(mu)")
    expect(torch.allclose(mu.grad, torch.ones_like(mu)),
           "dz/dmu must be 1: z = mu + exp(logvar / 2) * eps, with eps drawn independently of "
           "mu (torch.randn_like(mu))")
    expect(torch.allclose(logvar.grad, (zd - mu.detach()) / 2, atol=1e-4),
           "dz/dlogvar must be exp(logvar / 2) * eps / 2 = (z - mu) / 2: z = mu + "
           "exp(logvar / 2) * eps, with eps drawn from N(0, 1) and not computed from logvar")
    torch.manual_seed(1)
    a = reparam(mu.detach()[:8], logvar.detach()[:8])
    torch.manual_seed(1)
    b = reparam(mu.detach()[:8], logvar.detach()[:8])
    expect(torch.equal(a, b), "two draws after the same torch.manual_seed differ: draw eps "
                              "from torch's global generator (torch.randn_like)")

    # KL divergence: the closed form, per sample summed over dimensions, batch mean.
    g = torch.Generator().manual_seed(3)
    mu2 = torch.randn(5, 8, generator=g)
    lv2 = torch.randn(5, 8, generator=g)
    want = kl_divergence(mu2, lv2)
    got = kl(mu2, lv2)
    expect(isinstance(got, torch.Tensor) and got.dim() == 0,
           "kl_divergence must return a scalar tensor (average over the batch)")
    per_dim = 0.5 * (mu2.square() + lv2.exp() - 1 - lv2)
    if _close(got, 2 * want):
        expect(False, "your KL is twice the closed form: it is 0.5 * sum(mu^2 + exp(logvar) - 1 "
                      "- logvar)")
    if _close(got, per_dim.sum()):
        expect(False, "your KL is summed over the batch: sum over the latent dimensions, then "
                      "average over the samples")
    if _close(got, per_dim.mean()):
        expect(False, "your KL averages over the latent dimensions: sum over them (the KL of a "
                      "diagonal Gaussian is the sum of its dimensions' KLs), then average over "
                      "the samples")
    expect(_close(got, want), f"KL = {float(got):.5f}, expected {float(want):.5f} = mean over "
                              "samples of 0.5 * sum_j (mu_j^2 + exp(logvar_j) - 1 - logvar_j)")
    zero = kl(torch.zeros(3, 8), torch.zeros(3, 8))
    expect(abs(float(zero)) < 1e-6, "the KL of N(0, I) to itself must be 0")
    return "samples have mean mu and std exp(logvar/2), gradients flow, KL matches the closed form"


def check_reparameterization(reparameterize_fn: Fn, kl_fn: Fn) -> tuple[Fn, Fn]:
    """Check ``reparameterize(mu, logvar) -> z`` and ``kl_divergence(mu, logvar) -> scalar``;
    returns the pair to use (the learner's, or the references)."""
    return run_check("reparameterization and KL", (reparameterize_fn, kl_fn),
                     (reparameterize, kl_divergence), _check_reparameterization)


# --------------------------------------------------------------------------- latent regression


def _check_latent(fn: Fn) -> str:
    torch.manual_seed(0)
    E = LatentEncoder(nz=4, nef=4, n_blocks=2)
    fake = (torch.rand(3, 3, 16, 16) * 2 - 1).requires_grad_(True)
    z = torch.randn(3, 4)
    want = latent_regression_loss(E, fake, z)
    seen: list[tuple[bool, bool]] = []     # (grad enabled, input requires grad) per E call
    hook = E.register_forward_hook(
        lambda module, args, out: seen.append(
            (torch.is_grad_enabled(), bool(args and getattr(args[0], "requires_grad", False)))))
    try:
        loss = fn(E, fake, z)
    finally:
        hook.remove()
    expect(isinstance(loss, torch.Tensor) and loss.dim() == 0,
           "return the loss as a scalar tensor")
    if loss.requires_grad is False:
        if seen and not any(enabled for enabled, _ in seen):
            expect(False, "the loss has no gradient: E ran under torch.no_grad(), which cuts "
                          "the path from the loss back to G as well. Freeze E's parameters "
                          "instead (E.requires_grad_(False)): the gradient then still flows "
                          "through E into the generated image")
        expect(False, "the loss has no gradient: do not detach the generated image, G must "
                      "learn from this term (only E's own parameters are frozen)")
    mu, logvar = E(fake.detach())
    if _close(loss, (logvar - z).abs().mean()):
        expect(False, "you regress logvar: E's estimate of z is its mean mu (the first output)")
    expect(_close(loss, want), f"loss = {loss.item():.5f}, expected {want.item():.5f} = mean "
                               "|mu - z| with (mu, logvar) = E(fake_b_random)")
    expect(all(p.requires_grad for p in E.parameters()),
           "E's parameters are left frozen after your function: restore requires_grad=True "
           "(E still learns from the other terms)")
    loss.backward()
    expect(fake.grad is not None and float(fake.grad.abs().sum()) > 0,
           "no gradient reaches the generated image: G must learn from this term")
    leaked = [n for n, p in E.named_parameters()
              if p.grad is not None and float(p.grad.abs().sum()) > 0]
    expect(not leaked, f"E's parameters received gradients ({', '.join(leaked[:2])}, ...): "
                       "freeze E while it "
                       "encodes the fake (E.requires_grad_(False)), then unfreeze it. In the "
                       "hybrid model only G is updated by the latent regression term")
    return "only G receives gradients, E is unfrozen afterwards"


def check_latent_regression(fn: Fn) -> Fn:
    """Check ``latent_regression(E, fake_b_random, z_random) -> loss`` (E frozen inside)."""
    return run_check("latent regression (E not updated)", fn,
                     lambda E, f, z: latent_regression_loss(E, f, z), _check_latent)


# --------------------------------------------------------------------------- hybrid G loss


def _check_hybrid(fn: Fn) -> str:
    g = torch.Generator().manual_seed(5)
    preds_enc = [torch.randn(2, 1, 6, 6, generator=g), torch.randn(2, 1, 2, 2, generator=g)]
    preds_rnd = [torch.randn(2, 1, 6, 6, generator=g), torch.randn(2, 1, 2, 2, generator=g)]
    fake = torch.rand(2, 3, 8, 8, generator=g) * 2 - 1
    real = torch.rand(2, 3, 8, 8, generator=g) * 2 - 1
    mu, logvar = torch.randn(2, 8, generator=g), torch.randn(2, 8, generator=g)
    gan = GANLoss("lsgan")
    want = hybrid_generator_loss(preds_enc, preds_rnd, fake, real, mu, logvar)
    got = fn(preds_enc, preds_rnd, fake, real, mu, logvar)
    expect(isinstance(got, torch.Tensor) and got.dim() == 0, "return the loss as a scalar tensor")
    g1 = multiscale_gan_loss(gan, preds_enc, True, False)
    g2 = multiscale_gan_loss(gan, preds_rnd, True, False)
    l1, kl = l1_loss(fake, real), kl_divergence(mu, logvar)
    kl_no_exp = 0.5 * (mu.square() - 1).sum(1).mean()       # logvar where exp(logvar) belongs
    last = gan(preds_enc[-1], True, False) + gan(preds_rnd[-1], True, False)
    hints = [
        (want - 0.02 * kl, "the KL term has the wrong sign: KL = 0.5 * sum(mu^2 + exp(logvar) - "
                           "1 - logvar) is >= 0 and the loss ADDS lambda_kl * KL (minimising "
                           "pulls E's codes towards N(0, I))"),
        (want - 0.01 * kl + 0.01 * kl_no_exp,
         "the KL term has logvar where the variance exp(logvar) belongs: KL = 0.5 * sum(mu^2 + "
         "exp(logvar) - 1 - logvar)"),
        (want - g1 - g2 + last, "only the last scale of each discriminator is used: sum the GAN "
                                "loss over the whole list of logit maps"),
        (want - 0.01 * kl, "the KL term is missing (+ lambda_kl * KL(mu, logvar))"),
        (want - 0.01 * kl + kl, "the KL term is not weighted: multiply it by lambda_kl = 0.01"),
        (want - 10 * l1, "the L1 reconstruction term is missing (+ lambda_l1 * L1)"),
        (want - 10 * l1 + l1, "the L1 term is not weighted: multiply it by lambda_l1 = 10"),
        (want - g1, "the GAN term of the cVAE-GAN branch (pred_fake_encoded) is missing"),
        (want - g2, "the GAN term of the cLR-GAN branch (pred_fake_random) is missing"),
        (want - g1 - g2 + gan(preds_enc[0], True, False) + gan(preds_rnd[0], True, False),
         "only the first scale of each discriminator is used: sum the GAN loss over the list "
         "of logit maps"),
    ]
    for value, message in hints:
        if _close(got, value):
            expect(False, message)
    if _close(got, want - (g1 + g2) / 2):
        # With two scales, "mean over the scales" and "half the GAN terms" give the same
        # value: tell them apart on three scales.
        third = [torch.randn(2, 1, 1, 1, generator=g), torch.randn(2, 1, 1, 1, generator=g)]
        pe3, pr3 = preds_enc + third[:1], preds_rnd + third[1:]
        want3 = hybrid_generator_loss(pe3, pr3, fake, real, mu, logvar)
        gan3 = multiscale_gan_loss(gan, pe3, True, False) + multiscale_gan_loss(gan, pr3, True,
                                                                                False)
        got3 = fn(pe3, pr3, fake, real, mu, logvar)
        if _close(got3, want3 - gan3 * 2 / 3):
            expect(False, "the GAN loss is averaged over D's scales: sum it over the list of "
                          "logit maps (each scale is a discriminator of its own)")
        expect(False, "the GAN terms count half: add both branches' GAN losses in full "
                      "(cVAE-GAN + cLR-GAN, each summed over its scales), not their average or "
                      "half their sum")
    expect(_close(got, want), f"loss = {float(got):.5f}, expected {float(want):.5f}: the sum of "
                              "the LSGAN generator loss (target real) on both branches' logit "
                              "maps (summed over scales), lambda_l1 * L1 and lambda_kl * KL")
    return "all four terms with the paper's weights"


def check_hybrid_generator_loss(fn: Fn) -> Fn:
    """Check ``generator_loss(pred_fake_encoded, pred_fake_random, fake_b_encoded,
    real_b_encoded, mu, logvar, lambda_l1=10.0, lambda_kl=0.01) -> loss``."""
    return run_check("hybrid generator loss", fn, hybrid_generator_loss, _check_hybrid)

"""The checkers of notebook 06's exercises: reparameterization + KL, the latent regression with
E frozen, and the hybrid generator loss (Zhu et al., NeurIPS 2017)."""
from __future__ import annotations

import pytest
import torch

from course_lib.exercises import (ExerciseFailed, check_hybrid_generator_loss,
                                  check_latent_regression, check_reparameterization)
from course_lib.losses import GANLoss, kl_divergence, l1_loss
from course_lib.models import reparameterize
from course_lib.train.bicyclegan import hybrid_generator_loss, latent_regression_loss

LSGAN = GANLoss("lsgan")


def good_reparam(mu, logvar):
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


def good_kl(mu, logvar):
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1).mean()


@pytest.fixture(autouse=True)
def strict(monkeypatch):
    monkeypatch.setenv("COURSE_STRICT_EXERCISES", "1")


def reparam_sqrt(mu, logvar):
    eps = torch.randn(mu.shape, dtype=mu.dtype)
    return eps * logvar.exp().sqrt() + mu


def kl_sum_halves(mu, logvar):
    per_sample = -0.5 * torch.sum(1 + logvar - mu ** 2 - torch.exp(logvar), dim=-1)
    return per_sample.sum() / mu.shape[0]


@pytest.mark.parametrize("reparam, kl", [(good_reparam, good_kl), (reparam_sqrt, kl_sum_halves),
                                         (reparameterize, kl_divergence)])
def test_reparameterization_accepts_correct_answers(reparam, kl, capsys):
    assert check_reparameterization(reparam, kl) == (reparam, kl)
    assert "[PASS]" in capsys.readouterr().out


@pytest.mark.parametrize("reparam, kl, reason", [
    (lambda mu, lv: mu + lv.exp() * torch.randn_like(mu), good_kl, "exp\\(logvar / 2\\)"),
    (lambda mu, lv: mu, good_kl, "every sample equals mu"),
    # bk_w_sharedeps: one eps for the whole batch
    (lambda mu, lv: mu + (0.5 * lv).exp() * torch.randn(1), good_kl,
     "equal each other.*shares one eps"),
    (lambda mu, lv: mu + (0.5 * lv).exp() * torch.randn(1, mu.shape[1]), good_kl,
     "shares one eps"),
    # sampling without the reparameterisation trick
    (lambda mu, lv: torch.normal(mu, (0.5 * lv).exp()), good_kl, "reparameterisation trick"),
    (lambda mu, lv: torch.distributions.Normal(mu, (0.5 * lv).exp()).sample(), good_kl,
     "z has no gradient"),
    (lambda mu, lv: mu + (0.5 * lv).exp() * torch.randn_like(mu) * mu / mu.detach() ** 1,
     good_kl, "dz/dmu must be 1"),
    (lambda mu, lv: mu + (0.5 * lv.detach()).exp() * torch.randn_like(mu), good_kl,
     "no gradient reaches mu or logvar"),
    (lambda mu, lv: mu + (0.5 * lv).exp().detach() * torch.randn_like(mu) + 0 * lv, good_kl,
     "dz/dlogvar must be"),
    (lambda mu, lv: torch.normal(mu.detach(), (0.5 * lv).exp().detach()), good_kl, "gradient"),
    (good_reparam, lambda mu, lv: (mu.pow(2) + lv.exp() - 1 - lv).sum(1).mean(), "twice"),
    (good_reparam, lambda mu, lv: 0.5 * (mu.pow(2) + lv.exp() - 1 - lv).sum(), "batch"),
    (good_reparam, lambda mu, lv: 0.5 * (mu.pow(2) + lv.exp() - 1 - lv).mean(),
     "latent dimensions"),
])
def test_reparameterization_names_the_mistake(reparam, kl, reason):
    with pytest.raises(ExerciseFailed, match=reason):
        check_reparameterization(reparam, kl)


def frozen_latent(E, fake, z):
    E.requires_grad_(False)
    mu, _ = E(fake)
    E.requires_grad_(True)
    return (mu - z).abs().mean()


def frozen_context(E, fake, z):
    flags = [p.requires_grad for p in E.parameters()]
    for p in E.parameters():
        p.requires_grad_(False)
    try:
        mu = E(fake)[0]
    finally:
        for p, flag in zip(E.parameters(), flags):
            p.requires_grad_(flag)
    return torch.nn.functional.l1_loss(mu, z)


def no_grad_latent(E, fake, z):
    with torch.no_grad():
        mu, _ = E(fake)
    return (mu - z).abs().mean()


@pytest.mark.parametrize("fn", [frozen_latent, frozen_context,
                                lambda E, f, z: latent_regression_loss(E, f, z)])
def test_latent_regression_accepts_correct_answers(fn):
    assert check_latent_regression(fn) is fn


@pytest.mark.parametrize("wrong, reason", [
    (lambda E, f, z: (E(f)[0] - z).abs().mean(), "freeze E"),
    (lambda E, f, z: (E(f.detach())[0] - z).abs().mean(), "no gradient reaches|freeze E"),
    (lambda E, f, z: frozen_latent(E, f.detach(), z), "do not detach"),
    (lambda E, f, z: (E.requires_grad_(False)(f)[0] - z).abs().mean(), "left frozen"),
    (lambda E, f, z: (E(f)[1] - z).abs().mean(), "logvar"),
    (no_grad_latent, "torch.no_grad\\(\\)"),
])
def test_latent_regression_names_the_mistake(wrong, reason):
    with pytest.raises(ExerciseFailed, match=reason):
        check_latent_regression(wrong)


def good_hybrid(pe, pr, fake, real, mu, logvar, lambda_l1=10.0, lambda_kl=0.01):
    gan = sum(LSGAN(p, True, for_discriminator=False) for p in list(pe) + list(pr))
    return gan + lambda_l1 * l1_loss(fake, real) + lambda_kl * kl_divergence(mu, logvar)


def hybrid_loop(pe, pr, fake, real, mu, logvar, lambda_l1=10.0, lambda_kl=0.01):
    total = lambda_l1 * (fake - real).abs().mean()
    total = total + lambda_kl * 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(1).mean()
    for preds in (pe, pr):
        for p in preds:
            total = total + ((p - 1) ** 2).mean()
    return total


def hybrid_variant(pe, pr, fake, real, mu, logvar, lambda_l1=10.0, lambda_kl=0.01, kl=None,
                   scales=None, gan_weight=1.0):
    """The hybrid loss with one thing changed, to make the typical wrong answers."""
    pick = scales if callable(scales) else list
    gan = sum(LSGAN(p, True, for_discriminator=False) for p in pick(pe) + pick(pr))
    if scales == "mean":
        gan = (sum(LSGAN(p, True, for_discriminator=False) for p in pe) / len(pe)
               + sum(LSGAN(p, True, for_discriminator=False) for p in pr) / len(pr))
    kl_value = kl(mu, logvar) if kl is not None else kl_divergence(mu, logvar)
    return gan_weight * gan + lambda_l1 * l1_loss(fake, real) + lambda_kl * kl_value


@pytest.mark.parametrize("fn", [good_hybrid, hybrid_loop, hybrid_generator_loss])
def test_hybrid_loss_accepts_correct_answers(fn):
    assert check_hybrid_generator_loss(fn) is fn


@pytest.mark.parametrize("wrong, reason", [
    (lambda pe, pr, f, r, mu, lv: good_hybrid(pe, pr, f, r, mu, lv, lambda_kl=0.0), "KL term is"),
    (lambda pe, pr, f, r, mu, lv: good_hybrid(pe, pr, f, r, mu, lv, lambda_kl=1.0),
     "not weighted"),
    (lambda pe, pr, f, r, mu, lv: good_hybrid(pe, pr, f, r, mu, lv, lambda_l1=1.0), "lambda_l1"),
    (lambda pe, pr, f, r, mu, lv: good_hybrid(pe, [torch.ones(1)], f, r, mu, lv),
     "cLR-GAN branch"),
    (lambda pe, pr, f, r, mu, lv: good_hybrid(pe[:1], pr[:1], f, r, mu, lv), "first scale"),
    (lambda pe, pr, f, r, mu, lv: good_hybrid(pe, pr, f, r, mu, lv) + 1.0, "expected"),
    (lambda *a: hybrid_variant(*a, kl=lambda mu, lv: -kl_divergence(mu, lv)), "wrong sign"),
    (lambda *a: hybrid_variant(*a, kl=lambda mu, lv: 0.5 * (mu ** 2 + lv - 1 - lv).sum(1)
                               .mean()), "exp\\(logvar\\) belongs"),
    (lambda *a: hybrid_variant(*a, scales=lambda ps: list(ps)[-1:]), "last scale"),
    (lambda *a: hybrid_variant(*a, scales="mean"), "averaged over D's scales"),
    (lambda *a: hybrid_variant(*a, gan_weight=0.5), "GAN terms count half"),
])
def test_hybrid_loss_names_the_mistake(wrong, reason):
    with pytest.raises(ExerciseFailed, match=reason):
        check_hybrid_generator_loss(wrong)


def test_unfinished_exercises_fall_back_to_the_references(monkeypatch, capsys):
    monkeypatch.delenv("COURSE_STRICT_EXERCISES")

    def stub(*args, **kwargs):
        raise NotImplementedError()

    assert check_reparameterization(stub, stub) == (reparameterize, kl_divergence)
    assert check_hybrid_generator_loss(stub) is hybrid_generator_loss
    fallback = check_latent_regression(stub)
    assert fallback is not stub
    assert "[TODO]" in capsys.readouterr().out
    torch.manual_seed(0)
    from course_lib.models import LatentEncoder

    E = LatentEncoder(nz=2, nef=4, n_blocks=2)
    f, z = torch.rand(1, 3, 16, 16), torch.zeros(1, 2)
    assert torch.equal(fallback(E, f, z), latent_regression_loss(E, f, z))

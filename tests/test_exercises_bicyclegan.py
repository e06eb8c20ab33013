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


def test_reparameterization_accepts_correct_answers(capsys):
    assert check_reparameterization(good_reparam, good_kl) == (good_reparam, good_kl)
    assert "[PASS]" in capsys.readouterr().out


@pytest.mark.parametrize("reparam, kl, reason", [
    (lambda mu, lv: mu + lv.exp() * torch.randn_like(mu), good_kl, "exp\\(logvar / 2\\)"),
    (lambda mu, lv: mu, good_kl, "every sample equals mu"),
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


def test_latent_regression_accepts_correct_answers():
    assert check_latent_regression(frozen_latent) is frozen_latent


@pytest.mark.parametrize("wrong, reason", [
    (lambda E, f, z: (E(f)[0] - z).abs().mean(), "freeze E"),
    (lambda E, f, z: (E(f.detach())[0] - z).abs().mean(), "no gradient reaches|freeze E"),
    (lambda E, f, z: frozen_latent(E, f.detach(), z), "do not detach"),
    (lambda E, f, z: (E.requires_grad_(False)(f)[0] - z).abs().mean(), "left frozen"),
    (lambda E, f, z: (E(f)[1] - z).abs().mean(), "logvar"),
])
def test_latent_regression_names_the_mistake(wrong, reason):
    with pytest.raises(ExerciseFailed, match=reason):
        check_latent_regression(wrong)


def good_hybrid(pe, pr, fake, real, mu, logvar, lambda_l1=10.0, lambda_kl=0.01):
    gan = sum(LSGAN(p, True, for_discriminator=False) for p in list(pe) + list(pr))
    return gan + lambda_l1 * l1_loss(fake, real) + lambda_kl * kl_divergence(mu, logvar)


def test_hybrid_loss_accepts_correct_answers():
    assert check_hybrid_generator_loss(good_hybrid) is good_hybrid


@pytest.mark.parametrize("wrong, reason", [
    (lambda pe, pr, f, r, mu, lv: good_hybrid(pe, pr, f, r, mu, lv, lambda_kl=0.0), "KL term is"),
    (lambda pe, pr, f, r, mu, lv: good_hybrid(pe, pr, f, r, mu, lv, lambda_kl=1.0),
     "not weighted"),
    (lambda pe, pr, f, r, mu, lv: good_hybrid(pe, pr, f, r, mu, lv, lambda_l1=1.0), "lambda_l1"),
    (lambda pe, pr, f, r, mu, lv: good_hybrid(pe, [torch.ones(1)], f, r, mu, lv),
     "cLR-GAN branch"),
    (lambda pe, pr, f, r, mu, lv: good_hybrid(pe[:1], pr[:1], f, r, mu, lv), "first scale"),
    (lambda pe, pr, f, r, mu, lv: good_hybrid(pe, pr, f, r, mu, lv) + 1.0, "expected"),
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

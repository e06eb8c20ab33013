"""pix2pix_step equals Pix2Pix.train_step, and the notebook-04 checker catches the usual slips."""
from __future__ import annotations

import copy

import pytest
import torch

from course_lib.exercises.core import STRICT_ENV, ExerciseFailed
from course_lib.exercises.training import _flat, _setup, check_training_step
from course_lib.losses import GANLoss, l1_loss
from course_lib.train.pix2pix import Pix2Pix, Pix2PixConfig, pix2pix_step


@pytest.fixture(autouse=True)
def _not_strict(monkeypatch):
    monkeypatch.delenv(STRICT_ENV, raising=False)


def test_the_plain_step_is_the_class_step():
    G, D, batches = _setup(3)
    ref = Pix2Pix(copy.deepcopy(G), copy.deepcopy(D), Pix2PixConfig(steps=10))
    opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    for batch in batches:
        want = ref.train_step(batch)
        got = pix2pix_step(G, D, opt_G, opt_D, batch["A"], batch["B"])
        for key in ("loss_D", "loss_G_GAN", "loss_G_L1", "loss_G", "D_real", "D_fake"):
            assert got[key] == pytest.approx(want[key], rel=1e-5, abs=1e-6), key
    assert torch.allclose(_flat(G), _flat(ref.G), atol=1e-6)
    assert torch.allclose(_flat(D), _flat(ref.D), atol=1e-6)


def _variant(halve=True, detach=True, l1=True, zero_d=True, unfreeze=True, weight=None):
    bce = GANLoss("vanilla")

    def step(G, D, opt_G, opt_D, real_a, real_b, lambda_l1=100.0):
        fake = G(real_a)
        p_real = D(torch.cat([real_a, real_b], 1))
        p_fake = D(torch.cat([real_a, fake.detach() if detach else fake], 1))
        loss_d = bce(p_real, True, for_discriminator=True) + bce(p_fake, False,
                                                                 for_discriminator=True)
        loss_d = 0.5 * loss_d if halve else loss_d
        if zero_d:
            opt_D.zero_grad()
        loss_d.backward(retain_graph=not detach)
        opt_D.step()
        D.requires_grad_(False)
        loss_g = bce(D(torch.cat([real_a, fake], 1)), True, for_discriminator=False)
        if l1:
            loss_g = loss_g + (lambda_l1 if weight is None else weight) * l1_loss(fake, real_b)
        opt_G.zero_grad()
        loss_g.backward()
        opt_G.step()
        if unfreeze:
            D.requires_grad_(True)
        return {"loss_D": loss_d.item(), "loss_G": loss_g.item()}

    return step


@pytest.mark.parametrize("kwargs", [{}, {"detach": False}])
def test_checker_accepts_a_correct_step(kwargs, capsys):
    # Not detaching the fake in the D step wastes a backward pass through G, but opt_G's
    # zero_grad() clears those gradients, so the update is the same and the checker accepts it.
    fn = _variant(**kwargs)
    assert check_training_step(fn) is fn
    assert "[PASS]" in capsys.readouterr().out


@pytest.mark.parametrize("kwargs, message", [
    ({"halve": False}, "twice"),
    ({"l1": False}, "only the GAN term"),
    ({"weight": 10.0}, "lambda_l1 (100)"),
    ({"zero_d": False}, "D's weights differ"),
    ({"unfreeze": False}, "frozen"),
])
def test_checker_names_the_mistake(kwargs, message, capsys):
    assert check_training_step(_variant(**kwargs)) is pix2pix_step
    out = capsys.readouterr().out
    assert "[FAIL]" in out and message in out


def test_not_done_and_strict(monkeypatch, capsys):
    def todo(*args, **kwargs):
        raise NotImplementedError

    assert check_training_step(todo) is pix2pix_step
    assert "[TODO]" in capsys.readouterr().out
    monkeypatch.setenv(STRICT_ENV, "1")
    with pytest.raises(ExerciseFailed, match="training step"):
        check_training_step(todo)

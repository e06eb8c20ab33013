"""pix2pix_step equals Pix2Pix.train_step, and the notebook-04 checker judges right: every
correct style passes, every typical wrong answer fails with a message naming the mistake."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

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
    for k, batch in enumerate(batches):
        torch.manual_seed(k)                      # the same dropout masks in both
        want = ref.train_step(batch)
        torch.manual_seed(k)
        got = pix2pix_step(G, D, opt_G, opt_D, batch["A"], batch["B"])
        for key in ("loss_D", "loss_G_GAN", "loss_G_L1", "loss_G", "D_real", "D_fake"):
            assert got[key] == pytest.approx(want[key], rel=1e-5, abs=1e-6), key
    assert torch.allclose(_flat(G), _flat(ref.G), atol=1e-6)
    assert torch.allclose(_flat(D), _flat(ref.D), atol=1e-6)


_BCE = GANLoss("vanilla")


def _softplus_gan(pred, real):
    return F.softplus(-pred if real else pred).mean()


def _bce_logits(pred, real):
    return F.binary_cross_entropy_with_logits(pred, torch.full_like(pred, float(real)))


def _variant(halve=True, detach=True, l1=True, zero_d=True, zero_g=True, unfreeze=True,
             weight=None, retain=False, gan=None, twice_g=False, swap_labels=False,
             swap_cat=False, saturating=False, l2=False, l1_sum=False, report_gan_only=False,
             report_unhalved=False, freeze=True, stale_d=False, detach_g=False, d_fake_only=False,
             zero_after=False, unweighted=False, uncond=False):
    bce = gan or (lambda p, r: _BCE(p, r, for_discriminator=True))

    def step(G, D, opt_G, opt_D, real_a, real_b, lambda_l1=100.0):
        lam = lambda_l1 if weight is None else weight
        fake = G(real_a)
        pair = (lambda x, y: torch.cat([y, x], 1)) if swap_cat else (
            lambda x, y: torch.cat([x, y], 1))
        p_real = D(real_b if uncond else pair(real_a, real_b))
        p_fake = D(pair(real_a, fake.detach() if detach else fake))
        if swap_labels:
            loss_d = bce(p_real, False) + bce(p_fake, True)
        elif d_fake_only:
            loss_d = 2 * bce(p_fake, False)
        else:
            loss_d = bce(p_real, True) + bce(p_fake, False)
        loss_d = 0.5 * loss_d if halve else loss_d
        if zero_d and not zero_after:
            opt_D.zero_grad()
        loss_d.backward(retain_graph=retain)
        opt_D.step()
        if zero_after:
            opt_D.zero_grad()
        if freeze:
            D.requires_grad_(False)
        fake_g = G(real_a) if twice_g else fake
        if detach_g:
            fake_g = fake_g.detach()
        pred = p_fake if stale_d else D(pair(real_a, fake_g))
        loss_gan = -bce(pred, False) if saturating else bce(pred, True)
        loss_g = loss_gan
        if l1:
            if l2:
                dist = ((fake_g - real_b) ** 2).mean()
            elif l1_sum:
                dist = (fake_g - real_b).abs().sum()
            else:
                dist = l1_loss(fake_g, real_b)
            loss_g = loss_g + (1.0 if unweighted else lam) * dist
        if zero_g and not zero_after:
            opt_G.zero_grad()
        loss_g.backward()
        opt_G.step()
        if zero_after:
            opt_G.zero_grad()
        if unfreeze:
            D.requires_grad_(True)
        return {"loss_D": (2 * loss_d if report_unhalved else loss_d).item(),
                "loss_G": (loss_gan if report_gan_only else loss_g).item()}

    return step


CORRECT = {
    "reference style (GANLoss)": {},
    "softplus written out": {"gan": _softplus_gan},
    "F.binary_cross_entropy_with_logits": {"gan": _bce_logits},
    "D not frozen during the G step": {"freeze": False, "unfreeze": False},
    "zero_grad after each step": {"zero_after": True},
}


@pytest.mark.parametrize("style", list(CORRECT))
def test_checker_accepts_a_correct_step(style, capsys):
    fn = _variant(**CORRECT[style])
    assert check_training_step(fn) is fn
    assert "[PASS]" in capsys.readouterr().out


WRONG = {
    "D loss not halved": ({"halve": False}, "twice"),
    "D loss halved for the update, reported twice": ({"report_unhalved": True}, "twice"),
    "labels swapped": ({"swap_labels": True}, "labels are swapped"),
    "pair concatenated (output, input)": ({"swap_cat": True}, "(output, input)"),
    "D sees only the fake pair": ({"d_fake_only": True}, "only the fake pair"),
    "unconditional real pair": ({"uncond": True}, "cat([input, output], dim=1)"),
    "no L1 term": ({"l1": False}, "only the GAN term"),
    "reports only the GAN term": ({"report_gan_only": True}, "only the GAN term"),
    "lambda hard-coded to 100": ({"weight": 100.0}, "uses lambda = 100 although"),
    "lambda 10 instead of the argument": ({"weight": 10.0}, "uses lambda = 10 although"),
    "L1 not weighted": ({"unweighted": True}, "not weighted"),
    "saturating G loss": ({"saturating": True}, "saturating"),
    "L2 instead of L1": ({"l2": True}, "L2"),
    "L1 summed": ({"l1_sum": True}, "summed"),
    "no opt_D.zero_grad()": ({"zero_d": False, "freeze": False, "unfreeze": False},
                             "opt_D.zero_grad()"),
    "no opt_G.zero_grad()": ({"zero_g": False}, "opt_G.zero_grad()"),
    "D left frozen": ({"unfreeze": False}, "frozen"),
    "G called twice": ({"twice_g": True}, "G ran 2 times"),
    "no detach (PyTorch's raw error)": ({"detach": False}, "fake_b.detach()"),
    "no detach, retain_graph=True as PyTorch advises": ({"detach": False, "retain": True},
                                                        "gradients reached G twice"),
    "G loss from D's output before D's update": ({"stale_d": True, "detach": False,
                                                  "retain": True}, "AFTER the D step"),
    "fake detached in the G step": ({"detach_g": True, "l1": False}, "not connected"),
}


@pytest.mark.parametrize("mistake", list(WRONG))
def test_checker_names_the_mistake(mistake, capsys):
    kwargs, message = WRONG[mistake]
    assert check_training_step(_variant(**kwargs)) is pix2pix_step
    out = capsys.readouterr().out
    assert "[FAIL]" in out and message in out, out


def test_not_done_and_strict(monkeypatch, capsys):
    def todo(*args, **kwargs):
        raise NotImplementedError

    assert check_training_step(todo) is pix2pix_step
    assert "[TODO]" in capsys.readouterr().out
    monkeypatch.setenv(STRICT_ENV, "1")
    with pytest.raises(ExerciseFailed, match="training step"):
        check_training_step(todo)

"""GAN losses (vanilla, LSGAN, hinge) and L1 against hand-computed values."""
from __future__ import annotations

import pytest
import torch

from course_lib.losses import GANLoss, l1_loss

# Logits used throughout: x = (0, 2, -1).
# softplus(t) = log(1 + e^t):  softplus(0) = log 2 = 0.6931472, softplus(-2) = 0.1269280,
# softplus(1) = 1.3132617, softplus(2) = 2.1269280, softplus(-1) = 0.3132617.
X = torch.tensor([0.0, 2.0, -1.0])


def test_vanilla_is_binary_cross_entropy_on_logits() -> None:
    loss = GANLoss("vanilla")
    # real: -log s(x) = softplus(-x): (0.6931472 + 0.1269280 + 1.3132617) / 3
    assert loss(X, True).item() == pytest.approx(2.1333369 / 3, abs=1e-6)
    # fake: -log(1 - s(x)) = softplus(x): (0.6931472 + 2.1269280 + 0.3132617) / 3
    assert loss(X, False).item() == pytest.approx(3.1333369 / 3, abs=1e-6)
    # the generator's non-saturating loss is -log s(x) on its fakes
    assert loss(X, True, for_discriminator=False).item() == pytest.approx(0.7111123, abs=1e-6)


def test_vanilla_generator_loss_does_not_saturate() -> None:
    # when D confidently rejects a fake (logit -10), -log s(x) still has slope s(x) - 1 ~ -1
    x = torch.tensor([-10.0], requires_grad=True)
    GANLoss("vanilla")(x, True, for_discriminator=False).backward()
    assert x.grad is not None and x.grad.item() == pytest.approx(-1.0, abs=1e-4)


def test_lsgan_is_squared_error_to_the_label() -> None:
    loss = GANLoss("lsgan")
    assert loss(X, True).item() == pytest.approx((1 + 1 + 4) / 3)       # (x - 1)^2
    assert loss(X, False).item() == pytest.approx((0 + 4 + 1) / 3)      # x^2
    assert loss(X, True, for_discriminator=False).item() == pytest.approx(2.0)
    smooth = GANLoss("lsgan", real_label=0.9)                           # (x - 0.9)^2
    assert smooth(X, True).item() == pytest.approx((0.81 + 1.21 + 3.61) / 3)


def test_hinge() -> None:
    loss = GANLoss("hinge")
    assert loss(X, True).item() == pytest.approx((1 + 0 + 2) / 3)       # relu(1 - x)
    assert loss(X, False).item() == pytest.approx((1 + 3 + 0) / 3)      # relu(1 + x)
    assert loss(X, True, for_discriminator=False).item() == pytest.approx(-1 / 3)   # -mean x
    with pytest.raises(ValueError, match="target_is_real=True"):
        loss(X, False, for_discriminator=False)


def test_maps_are_averaged_and_half_precision_is_computed_in_float() -> None:
    pred = torch.zeros(2, 1, 30, 30)
    assert GANLoss()(pred, True).item() == pytest.approx(0.6931472, abs=1e-6)
    out = GANLoss("lsgan")(pred.half() + 1, False)
    assert out.dtype == torch.float32 and out.item() == pytest.approx(1.0)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="mode='wgan'"):
        GANLoss("wgan")
    with pytest.raises(TypeError, match="each scale"):
        GANLoss()([X, X], True)                                         # type: ignore[arg-type]
    with pytest.raises(TypeError, match="True or False"):
        GANLoss()(X, 1)                                                 # type: ignore[arg-type]


def test_l1_loss() -> None:
    fake = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    real = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    assert l1_loss(fake, real).item() == pytest.approx((1 + 0 + 2 + 3) / 4)
    with pytest.raises(ValueError, match=r"fake \(2, 2\) and real \(4,\)"):
        l1_loss(fake, real.flatten())

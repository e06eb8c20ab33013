"""PSNR and SSIM on the course's [-1, 1] images."""
from __future__ import annotations

import math

import pytest
import torch

from course_lib.metrics import psnr, ssim


def test_psnr_of_a_known_mse() -> None:
    real = torch.rand(2, 3, 16, 16) * 1.6 - 0.8
    # +0.2 in [-1, 1] is +0.1 in [0, 1]: MSE 0.01, PSNR 10 log10(1 / 0.01) = 20 dB
    assert psnr(real + 0.2, real) == pytest.approx(20.0, abs=1e-3)
    fake = real.clone()
    fake[0] += 0.02  # image 0: MSE 1e-4 -> 40 dB; image 1 identical -> inf
    per_image = psnr(fake, real, reduction="none")
    assert per_image[0].item() == pytest.approx(40.0, abs=1e-2) and math.isinf(per_image[1])


def test_ssim_of_identical_is_one_and_noise_is_lower() -> None:
    g = torch.Generator().manual_seed(0)
    real = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    assert ssim(real, real) == pytest.approx(1.0, abs=1e-5)
    noisy = (real + 0.5 * torch.randn(real.shape, generator=g)).clamp(-1, 1)
    assert ssim(noisy, real) < 0.8
    assert ssim(noisy, real, reduction="none").shape == (2,)


def test_bad_inputs_raise_value_error() -> None:
    x = torch.zeros(1, 3, 16, 16)
    with pytest.raises(ValueError, match="same shape"):
        psnr(x, torch.zeros(1, 3, 16, 8))
    with pytest.raises(ValueError, match=r"lie in \[-1, 1\].*found values in \[255, 255\]"):
        psnr(x + 255, x)
    with pytest.raises(ValueError, match="11x11"):
        ssim(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match="reduction"):
        psnr(x, x, reduction="sum")
    with pytest.raises(ValueError, match="uint8"):
        ssim(x.to(torch.uint8), x)

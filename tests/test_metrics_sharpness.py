"""Sharpness (pix2pix Sec. 3.1, Fig. 4): Laplacian energy of fake vs real."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from course_lib.metrics import (
    high_frequency_energy,
    interior_mask,
    laplacian,
    sharpness_per_class,
    sharpness_ratio,
)


def noisy(n: int = 3, size: int = 24, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g) * 1.6 - 0.8


def blur(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)


def test_laplacian_by_hand() -> None:
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 1.0
    lap = laplacian(x)[0, 0]
    assert lap[2, 2] == -4 and lap[1, 2] == 1 and lap[2, 1] == 1 and lap[0, 0] == 0
    ramp = torch.linspace(-1, 1, 6).expand(1, 1, 6, 6)  # linear: zero Laplacian inside
    assert laplacian(ramp)[0, 0, 1:-1, 1:-1].abs().max() < 1e-6


def test_identical_is_one_and_blurred_is_less() -> None:
    x = noisy()
    assert sharpness_ratio(x, x) == pytest.approx(1.0)
    assert sharpness_ratio(blur(x), x) < 0.2
    assert sharpness_ratio(x, blur(x)) > 5  # sharper than real (noise) reads above 1


def test_interior_mask_erodes_regions_and_the_border() -> None:
    cm = torch.zeros(8, 8, dtype=torch.long)
    cm[:, 4:] = 1
    m = interior_mask(cm, margin=1)
    # columns 1..2 of class 0 and 5..6 of class 1, rows 1..6
    expected = torch.zeros(8, 8, dtype=torch.bool)
    expected[1:7, 1:3] = True
    expected[1:7, 5:7] = True
    assert torch.equal(m, expected)
    assert torch.equal(interior_mask(cm, 1, classes=[1]), expected & (cm == 1))
    assert torch.equal(interior_mask(cm, 1, classes="wall", class_names=["sky", "wall"]),
                       expected & (cm == 1))
    assert interior_mask(cm, 0).all()


def test_class_regions_separate_texture_from_boundaries() -> None:
    # Real: flat halves with a strong edge between them, plus fine texture in class 1.
    # Fake: the same edge, but class 1's texture blurred away.
    g = torch.Generator().manual_seed(1)
    cm = torch.zeros(2, 24, 24, dtype=torch.long)
    cm[:, :, 12:] = 1
    base = torch.where(cm == 1, 0.6, -0.6)[:, None].expand(-1, 3, -1, -1)
    texture = 0.1 * torch.randn(2, 3, 24, 24, generator=g) * (cm == 1)[:, None]
    real = base + texture
    fake = base + blur(texture)
    whole = sharpness_ratio(fake, real)
    inside = sharpness_ratio(fake, real, class_map=cm, classes=[1], margin=2)
    assert inside < 0.2 < whole  # the edge hides the loss of texture in the whole-image ratio
    per_class = sharpness_per_class(fake, real, cm, class_names=["flat", "textured"])
    assert list(per_class) == ["textured"] and per_class["textured"] == pytest.approx(inside)


def test_energy_per_image_with_and_without_mask() -> None:
    x = noisy(2)
    e = high_frequency_energy(x)
    assert e.shape == (2,) and (e > 0).all()
    empty = torch.zeros(2, 24, 24, dtype=torch.bool)
    assert torch.isnan(high_frequency_energy(x, empty)).all()


def test_bad_inputs_raise_value_error() -> None:
    x = noisy()
    cm = torch.zeros(3, 24, 24, dtype=torch.long)
    with pytest.raises(ValueError, match="same shape"):
        sharpness_ratio(x, x[:2])
    with pytest.raises(ValueError, match=r"\[-1, 1\].*255"):
        sharpness_ratio(x * 200, x)
    with pytest.raises(ValueError, match="spatial size"):
        sharpness_ratio(x, x, class_map=cm[:, :20])
    with pytest.raises(ValueError, match="margin"):
        sharpness_ratio(x, x, class_map=cm, margin=-1)
    with pytest.raises(ValueError, match="no pixel"):
        sharpness_ratio(x, x, class_map=cm, classes=[3])
    with pytest.raises(ValueError, match="'wall'"):
        sharpness_ratio(x, x, class_map=cm, classes=["wall"])
    with pytest.raises(ValueError, match="class_map"):
        sharpness_ratio(x, x, classes=[0])
    with pytest.raises(ValueError, match="no high-frequency"):
        sharpness_ratio(x, torch.zeros_like(x))

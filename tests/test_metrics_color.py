"""Colour distribution in Lab (pix2pix Sec. 4.4): conversion, histograms, spread."""
from __future__ import annotations

import pytest
import torch

from course_lib.metrics import (
    color_distribution,
    color_spread,
    color_spread_ratio,
    lab_histograms,
    rgb_to_lab,
)


def solid(rgb01: tuple[float, float, float], size: int = 2) -> torch.Tensor:
    return (torch.tensor(rgb01, dtype=torch.float32)[:, None, None] * 2 - 1).expand(3, size, size)


@pytest.mark.parametrize("rgb, lab", [
    ((1.0, 1.0, 1.0), (100.0, 0.0, 0.0)),
    ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
    ((1.0, 0.0, 0.0), (53.24, 80.09, 67.20)),
    ((0.0, 1.0, 0.0), (87.73, -86.18, 83.18)),
    ((0.0, 0.0, 1.0), (32.30, 79.19, -107.86)),
    ((0.5, 0.5, 0.5), (53.39, 0.0, 0.0)),
])
def test_known_lab_values(rgb, lab) -> None:
    out = rgb_to_lab(solid(rgb))[:, 0, 0]
    assert out.tolist() == pytest.approx(lab, abs=0.02)


def test_lab_keeps_leading_dims() -> None:
    x = torch.rand(2, 4, 3, 5, 5) * 2 - 1
    assert rgb_to_lab(x).shape == x.shape
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, H, W\)"):
        rgb_to_lab(torch.zeros(4, 5, 5))


def test_histograms_are_normalised_and_identical_sets_intersect_fully() -> None:
    x = torch.rand(3, 3, 8, 8) * 2 - 1
    h = lab_histograms(x, bins=16)
    assert h.shape == (3, 16) and torch.allclose(h.sum(1), torch.ones(3))
    d = color_distribution(x, x, bins=16)
    assert d.intersection == pytest.approx((1.0, 1.0, 1.0))
    assert d.kl == pytest.approx((0.0, 0.0, 0.0), abs=1e-6)
    assert d.edges.shape == (3, 17)


def test_grey_outputs_narrow_the_distribution() -> None:
    x = torch.rand(8, 3, 8, 8) * 2 - 1
    grey = x.mean(1, keepdim=True).expand_as(x)  # no colour: a and b collapse to 0
    d = color_distribution(grey, x, bins=32)
    assert d.intersection[1] < 0.5 and d.intersection[2] < 0.5
    assert d.kl[1] > 0.5 and set(d.as_dict()) >= {"L_intersection", "a_kl"}


def test_spread_of_region_colour() -> None:
    # Two images whose class-1 region is pure red and pure black: spread is half the
    # Lab distance between them; a generator painting both the same has spread 0.
    cm = torch.zeros(2, 4, 4, dtype=torch.long)
    cm[:, :2] = 1
    real = torch.stack([solid((1, 0, 0), 4), solid((0, 0, 0), 4)])
    red = torch.tensor([53.24, 80.09, 67.20])
    assert color_spread(real, cm, classes=1) == pytest.approx(float(red.norm() / 2), rel=1e-3)
    same = torch.stack([solid((0.5, 0, 0), 4)] * 2)
    assert color_spread_ratio(same, real, cm, classes=1) == pytest.approx(0.0, abs=1e-4)
    assert color_spread_ratio(real, real, cm, classes=["wall"],
                              class_names=["sky", "wall"]) == pytest.approx(1.0)


def test_bad_inputs_raise_value_error() -> None:
    x = torch.rand(2, 3, 4, 4) * 2 - 1
    cm = torch.zeros(2, 4, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="same shape"):
        color_spread_ratio(x, x[:1], cm)
    with pytest.raises(ValueError, match="present in 0 image"):
        color_spread(x, cm, classes=1)
    with pytest.raises(ValueError, match="bins"):
        lab_histograms(x, bins=1)
    with pytest.raises(ValueError, match=r"lie in \[-1, 1\].*x \* 2 - 1"):
        lab_histograms(x.abs() * 0 + 1.5)
    with pytest.raises(ValueError, match="3 channels"):
        lab_histograms(x[:, :1])

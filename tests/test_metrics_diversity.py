"""Diversity and mode coverage (BicycleGAN Sec. 4)."""
from __future__ import annotations

import pytest
import torch

from course_lib.metrics import diversity, mode_coverage, pairwise_distances, predict_modes


def test_identical_outputs_have_zero_diversity() -> None:
    one = torch.rand(3, 1, 3, 8, 8) * 2 - 1
    assert diversity(one.expand(-1, 4, -1, -1, -1)) == 0.0


def test_l1_diversity_by_hand() -> None:
    # one input, three outputs: constant -1, 0, 1 -> pair distances 1, 2, 1
    s = torch.stack([torch.full((3, 4, 4), v) for v in (-1.0, 0.0, 1.0)])[None]
    assert pairwise_distances(s).tolist() == [[1.0, 2.0, 1.0]]
    assert diversity(s) == pytest.approx(4 / 3)
    assert diversity(s, distance=lambda a, b: (a - b).abs().amax((1, 2, 3))) == pytest.approx(4 / 3)


def test_mode_coverage_counts() -> None:
    ids = torch.tensor([0, 0, 2, -1, 2, 5])
    cov = mode_coverage(ids, num_modes=6)
    assert cov.covered == 3 and cov.fraction == pytest.approx(0.5)
    assert cov.valid_rate == pytest.approx(5 / 6)
    assert cov.histogram.tolist() == [2, 0, 2, 0, 0, 1] and cov.per_input_fraction is None
    masked = mode_coverage(ids, 6, valid=torch.tensor([True, True, False, True, True, False]))
    assert masked.covered == 2 and masked.valid_rate == pytest.approx(3 / 6)


def test_per_input_coverage_exposes_an_ignored_z() -> None:
    # each input always gets the same mode (z ignored), but inputs differ: global coverage
    # looks perfect, per-input coverage is 1/K.
    ids = torch.arange(4)[:, None].expand(4, 5)
    cov = mode_coverage(ids, 4)
    assert cov.fraction == 1.0 and cov.per_input_fraction == pytest.approx(0.25)
    assert "4/4 modes" in str(cov)


def test_predict_modes_with_any_callable() -> None:
    images = torch.zeros(2, 3, 3, 4, 4)  # (N, S, C, H, W)
    maps = torch.arange(2)[:, None, None].expand(2, 4, 4)
    ids = predict_modes(lambda x, m: m[:, 0, 0] * 10 + torch.arange(x.shape[0]) % 3, images, maps)
    assert ids.tolist() == [[0, 1, 2], [10, 11, 12]]
    logits = predict_modes(lambda x: torch.eye(4)[:x.shape[0]], torch.zeros(3, 3, 4, 4))
    assert logits.tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="one integer id"):
        predict_modes(lambda x: torch.zeros(5), torch.zeros(3, 3, 4, 4))


def test_bad_inputs_raise_value_error() -> None:
    with pytest.raises(ValueError, match="at least 2 outputs"):
        diversity(torch.zeros(2, 1, 3, 4, 4))
    with pytest.raises(ValueError, match=r"\(N inputs, S samples"):
        diversity(torch.zeros(2, 3, 4, 4))
    with pytest.raises(ValueError, match="distance"):
        diversity(torch.zeros(1, 2, 3, 4, 4), distance="l3")
    with pytest.raises(ValueError, match=r"contains 6, outside \[0, 6\)"):
        mode_coverage([0, 6], num_modes=6)
    with pytest.raises(ValueError, match="integers"):
        mode_coverage(torch.tensor([0.0, 1.0]), 2)
    with pytest.raises(ValueError, match="valid must be"):
        mode_coverage([0, 1], 2, valid=[True])

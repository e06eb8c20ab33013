"""Paired jitter (pix2pix Sec. 6.2): shared crop and flip, label maps kept integral."""
from __future__ import annotations

import pytest
import torch

from course_lib.data.jitter import JitterParams, apply_jitter, paired_jitter, resize, sample_jitter


def test_shared_parameters_on_both_sides() -> None:
    x = torch.rand(3, 32, 32) * 2 - 1
    for seed in range(10):
        a, b = paired_jitter(x, x.clone(), 36, 32, generator=torch.Generator().manual_seed(seed))
        assert a.shape == (3, 32, 32) and torch.equal(a, b)


def test_label_maps_stay_integral_with_nearest() -> None:
    labels = torch.randint(0, 5, (16, 16))
    img = torch.rand(3, 16, 16)
    _, lab = paired_jitter(img, labels, 20, 16, nearest_b=True,
                           generator=torch.Generator().manual_seed(0))
    assert lab.dtype == torch.int64 and set(lab.unique().tolist()) <= set(range(5))


def test_apply_jitter_crop_and_flip_by_hand() -> None:
    x = torch.arange(16.0).reshape(1, 4, 4)
    y = apply_jitter(x, JitterParams(top=1, left=2, flip=True), 4, 2)
    assert torch.equal(y, torch.tensor([[[7.0, 6.0], [11.0, 10.0]]]))


def test_resize_keeps_range() -> None:
    x = torch.zeros(1, 8, 8)
    x[:, :, 4:] = 1
    y = resize(x, 13)
    assert y.shape == (1, 13, 13) and y.min() >= 0 and y.max() <= 1


def test_errors_name_the_sizes() -> None:
    with pytest.raises(ValueError, match="crop size 40x40 is larger than the load size 36x36"):
        sample_jitter(36, 40)
    with pytest.raises(ValueError, match=r"differ in size \(\(8, 8\) vs \(9, 9\)\)"):
        paired_jitter(torch.rand(3, 8, 8), torch.rand(3, 9, 9), 8, 8)

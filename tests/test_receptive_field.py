"""Receptive fields: analytic == empirical for the PatchGANs (1, 16, 34, 70, 142, 286)."""
from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from course_lib.models import (ImageDiscriminator, PatchDiscriminator, PixelDiscriminator,
                               UNetGenerator, empirical_receptive_field, plot_receptive_field,
                               receptive_field)


@pytest.mark.parametrize("n_layers,expected", [(0, 1), (1, 16), (2, 34), (3, 70), (4, 142),
                                               (5, 286)])
def test_patchgan_analytic_equals_empirical(n_layers: int, expected: int) -> None:
    if n_layers == 0:
        d: nn.Module = PixelDiscriminator(in_channels=1, ndf=2)
    else:
        d = PatchDiscriminator(in_channels=1, ndf=2, n_layers=n_layers)
    analytic = receptive_field(d)
    assert analytic.size == expected
    assert analytic.stride == 2 ** n_layers
    # an input large enough that the centre unit's field lies inside it
    side = 2 ** n_layers * (expected // 2 ** n_layers + 4)
    measured = empirical_receptive_field(d, side)
    assert not measured.clipped
    assert measured.height == measured.width == measured.size == expected


def test_empirical_field_ignores_batch_norm_mode_and_leaves_the_model_alone() -> None:
    d = PatchDiscriminator(in_channels=3, ndf=4, n_layers=2, norm="instance").train()
    before = {k: v.clone() for k, v in d.state_dict().items()}
    assert empirical_receptive_field(d, 64).size == 34      # instance norm would couple all
    assert all(torch.equal(before[k], v) for k, v in d.state_dict().items())
    assert d.training


def test_stride_of_neighbouring_units() -> None:
    d = PatchDiscriminator(in_channels=1, ndf=2, n_layers=3)
    a = empirical_receptive_field(d, 128, output_index=(6, 6))
    b = empirical_receptive_field(d, 128, output_index=(6, 7))
    assert b.left - a.left == receptive_field(d).stride == 8
    assert a.top == b.top


def test_pooling_dilation_and_hand_computed_stacks() -> None:
    # conv3: r=3 | maxpool2 (s=2): r=3+1=4, j=2 | conv3 dilation 2: r=4+2*2*2=12
    stack = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.BatchNorm2d(2),
                          nn.Conv2d(2, 1, 3, dilation=2), nn.Dropout(0.5))
    assert receptive_field(stack) == (12, 2)
    assert empirical_receptive_field(stack, 40).size == 12
    # conv3 stride 2: r=3, j=2 | avgpool2: r=3+1*2=5, j=4 ; as a plain list of layers
    layers = [nn.Conv2d(1, 1, 3, stride=2), nn.LeakyReLU(0.2), nn.AvgPool2d(2)]
    assert receptive_field(layers) == (5, 4)
    assert empirical_receptive_field(nn.Sequential(*layers), 40).size == 5


def test_non_square_kernels_need_an_axis() -> None:
    stack = nn.Sequential(nn.Conv2d(1, 1, (3, 5)), nn.Conv2d(1, 1, (3, 5), stride=(1, 2)))
    with pytest.raises(ValueError, match="not square"):
        receptive_field(stack)
    assert receptive_field(stack, dim=0) == (5, 1)
    assert receptive_field(stack, dim=1) == (9, 2)
    field = empirical_receptive_field(stack, 32)
    assert (field.height, field.width) == (5, 9)
    with pytest.raises(ValueError, match="not square"):
        field.size


def test_unsupported_layers_point_to_the_empirical_method() -> None:
    with pytest.raises(TypeError, match="empirical_receptive_field"):
        receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3), nn.ConvTranspose2d(1, 1, 4, 2, 1)))
    with pytest.raises(TypeError, match="AdaptiveAvgPool2d"):
        receptive_field([nn.AdaptiveAvgPool2d(1)])
    # the U-Net is not a sequential stack, but the empirical method measures it
    g = UNetGenerator(in_channels=1, num_downs=3, ngf=2)
    with pytest.raises(TypeError):
        receptive_field(g)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert empirical_receptive_field(g, 16).clipped     # sees (almost) everything


def test_whole_image_discriminator_and_the_clipping_warning() -> None:
    d = ImageDiscriminator(in_channels=1, ndf=2, image_size=32)
    field = empirical_receptive_field(d, 32, warn_if_clipped=False)
    assert (field.height, field.width, field.top, field.left) == (32, 32, 0, 0)
    assert field.clipped
    with pytest.warns(UserWarning, match="larger input_size"):
        empirical_receptive_field(PatchDiscriminator(in_channels=1, ndf=2), 32)
    with pytest.raises(ValueError, match="outside the output"):
        empirical_receptive_field(d, 32, output_index=(1, 0), warn_if_clipped=False)


def test_plot_receptive_field_draws_the_field() -> None:
    import matplotlib.pyplot as plt   # the root conftest selects the Agg backend
    from matplotlib.patches import Rectangle

    fig, ax = plt.subplots()
    image = torch.rand(3, 64, 64) * 2 - 1
    out = plot_receptive_field(image, receptive_field(PatchDiscriminator(n_layers=1)),
                               center=(20, 30), ax=ax, stride=2)
    assert out is ax
    rects = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(rects) == 2
    assert rects[0].get_width() == rects[0].get_height() == 16
    assert rects[0].get_xy() == (30 - 8, 20 - 8)
    assert rects[1].get_xy() == (30 - 8 + 2, 20 - 8)
    assert "16x16" in ax.get_title()
    ax2 = plot_receptive_field(torch.zeros(32, 32), 70)       # grayscale, new figure
    assert len(ax2.patches) == 1
    with pytest.raises(ValueError, match="size=0"):
        plot_receptive_field(image, 0, ax=ax)
    plt.close("all")

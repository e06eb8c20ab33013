"""PatchGAN, PixelGAN and ImageGAN (pix2pix Sec. 3.2.2, 4.4): counts, shapes, features."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from course_lib.models import (ImageDiscriminator, PatchDiscriminator, PixelDiscriminator,
                               patch_receptive_field, receptive_field)

# The official 70x70 PatchGAN (n_layers=3, ndf=64, 6 input channels, batch norm), by layer:
# 6*64*16+64 | 64*128*16 + BN 256 | 128*256*16 + BN 512 | 256*512*16 + BN 1024 | 512*16+1
PATCH_70_PARAMS = 6208 + 131072 + 256 + 524288 + 512 + 2097152 + 1024 + 8193
# PixelGAN: 6*64+64 | 64*128 + BN 256 | 128 (the official code gives the last 1x1 conv a
# bias only without batch norm) = 9,024
PIXEL_PARAMS = 448 + 8192 + 256 + 128


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_70x70_patchgan_matches_the_official_count_and_outputs_30x30() -> None:
    assert PATCH_70_PARAMS == 2_768_705
    d = PatchDiscriminator(in_channels=6, ndf=64, n_layers=3, norm="batch")
    assert n_params(d) == PATCH_70_PARAMS
    assert d.receptive_field == 70
    with torch.no_grad():
        assert d(torch.randn(1, 6, 256, 256)).shape == (1, 1, 30, 30)


@pytest.mark.parametrize("n_layers,side,field", [(1, 126, 16), (2, 62, 34), (3, 30, 70),
                                                  (4, 14, 142), (5, 6, 286)])
def test_output_sides_and_patch_sizes_at_256px(n_layers: int, side: int, field: int) -> None:
    d = PatchDiscriminator(in_channels=6, ndf=2, n_layers=n_layers)
    with torch.no_grad():
        assert d(torch.randn(1, 6, 256, 256)).shape == (1, 1, side, side)
    assert patch_receptive_field(n_layers) == field == d.receptive_field


def test_widths_cap_at_8_ndf_and_bias_only_without_batch_norm() -> None:
    d = PatchDiscriminator(ndf=4, n_layers=5)
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [4, 8, 16, 32, 32, 32, 1]
    assert [c.stride for c in convs] == [(2, 2)] * 5 + [(1, 1)] * 2
    assert [c.bias is not None for c in convs] == [True] + [False] * 5 + [True]
    d = PatchDiscriminator(ndf=4, norm="instance")
    assert all(c.bias is not None for c in d.modules() if isinstance(c, nn.Conv2d))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())


def test_conditional_and_unconditional_inputs() -> None:
    a, b = torch.randn(2, 3, 64, 64), torch.randn(2, 3, 64, 64)
    cond = PatchDiscriminator(in_channels=6, ndf=8)
    assert cond(torch.cat([a, b], dim=1)).shape == (2, 1, 6, 6)
    uncond = PatchDiscriminator(in_channels=3, ndf=8)
    assert uncond(b).shape == (2, 1, 6, 6)
    with pytest.raises(ValueError, match="in_channels=6 but got 3 channels"):
        cond(b)
    with pytest.raises(ValueError, match="n_layers=0.*PixelDiscriminator"):
        PatchDiscriminator(n_layers=0)
    with pytest.raises(ValueError, match="norm='batchnorm'"):
        PatchDiscriminator(norm="batchnorm")


def test_features_end_with_the_logits() -> None:
    torch.manual_seed(0)
    d = PatchDiscriminator(ndf=4, n_layers=3).eval()
    x = torch.randn(2, 6, 64, 64)
    feats = d(x, return_features=True)
    assert isinstance(feats, list) and len(feats) == 3 + 2
    assert [f.shape[1] for f in feats] == [4, 8, 16, 32, 1]
    assert [f.shape[-1] for f in feats] == [32, 16, 8, 7, 6]
    assert torch.equal(feats[-1], d(x))
    assert torch.equal(d.forward_features(x)[2], feats[2])


def test_pixel_discriminator() -> None:
    d = PixelDiscriminator(in_channels=6, ndf=64)
    assert n_params(d) == PIXEL_PARAMS
    assert d.receptive_field == 1
    y = d(torch.randn(2, 6, 20, 24))
    assert y.shape == (2, 1, 20, 24)
    assert len(d(torch.randn(1, 6, 8, 8), return_features=True)) == 3
    assert receptive_field(d) == (1, 1)


@pytest.mark.parametrize("size", [32, 64, (32, 64)])
def test_image_discriminator_gives_one_logit_that_sees_the_whole_image(size) -> None:
    d = ImageDiscriminator(in_channels=6, ndf=4, image_size=size)
    h, w = (size, size) if isinstance(size, int) else size
    assert d(torch.randn(2, 6, h, w)).shape == (2, 1, 1, 1)
    rf_h, rf_w = receptive_field(d, dim=0), receptive_field(d, dim=1)
    assert rf_h.size >= h and rf_w.size >= w
    feats = d(torch.randn(1, 6, h, w), return_features=True)
    assert feats[-1].shape == (1, 1, 1, 1)
    with pytest.raises(ValueError, match="image_size"):
        d(torch.randn(1, 6, h * 2, w * 2))


def test_image_discriminator_at_256px_is_strided_down_to_4x4() -> None:
    d = ImageDiscriminator(ndf=2, image_size=256)
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 6 + 1 and convs[-1].kernel_size == (4, 4)
    assert receptive_field(d).size >= 256
    with pytest.raises(ValueError, match="image_size=4"):
        ImageDiscriminator(image_size=4)


def test_discriminators_rebuild_from_config() -> None:
    for d in (PatchDiscriminator(ndf=4, n_layers=2), PixelDiscriminator(ndf=4),
              ImageDiscriminator(ndf=4, image_size=32)):
        rebuilt = type(d)(**d.config)
        rebuilt.load_state_dict(d.state_dict())
        assert n_params(rebuilt) == n_params(d)

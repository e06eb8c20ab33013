"""pix2pixHD's networks: shapes, parameter counts at the paper's configuration, bad input."""
from __future__ import annotations

import pytest
import torch

from course_lib.models import (GlobalGenerator, InstanceEncoder, LocalEnhancer,
                               MultiscaleDiscriminator, max_num_D)
from course_lib.models.pix2pixhd import ResnetBlock, downsample


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# Parameter counts at the Cityscapes configuration of the official implementation
# (NVIDIA/pix2pixHD, options/base_options.py and train_options.py: label_nc 35, instance
# boundary channel on, ngf 64, n_downsample_global 4, n_blocks_global 9, n_blocks_local 3,
# ndf 64, n_layers_D 3, instance norm without affine parameters, every conv with a bias).
# G's input: 35 one-hot labels + 1 boundary + 3 instance features = 39 channels; D's input:
# 35 labels + 1 boundary + 3 image channels = 39 as well. Derivation, k x k conv from a to b
# channels = k*k*a*b + b:
#   G1: 7x7 39->64 (122,368) + 3x3 downs 64->128->256->512->1024 (73,856 + 295,168 +
#       1,180,160 + 4,719,616) + 9 residual blocks of two 3x3 1024->1024 convs
#       (18 x 9,438,208 = 169,887,744) + 3x3 transposed ups 1024->512->256->128->64
#       (4,719,104 + 1,179,904 + 295,040 + 73,792) + 7x7 64->3 (9,411) = 182,556,163.
G1_PAPER = 182_556_163
#   G1 + enhancer (official LocalEnhancer, --netG local --ngf 32: G1 of width 64 without its
#   last 7x7 conv, 182,546,752) + enhancer: 7x7 39->32 (61,184), 3x3/2 32->64 (18,496),
#   3 residual blocks at 64 (6 x 36,928 = 221,568), 3x3 transposed 64->32 (18,464), 7x7
#   32->3 (4,707) = 324,419; total 182,871,171.
G1_G2_PAPER = 182_871_171
#   One 70x70 PatchGAN: 4x4 convs 39->64 (40,000), 64->128 (131,200), 128->256 (524,544),
#   256->512 (2,097,664), 512->1 (8,193) = 2,801,601; three scales = 8,404,803.
D3_PAPER = 8_404_803
#   Encoder (nef 16, n_downsample_E 4, RGB -> 3 features): 788,803.
E_PAPER = 788_803


def test_parameter_counts_at_the_paper_configuration() -> None:
    with torch.device("meta"):                 # shapes only: no 730 MB allocation
        g1 = GlobalGenerator(39, 3, ngf=64, n_downsampling=4, n_blocks=9)
        enhancer = LocalEnhancer(39, 3, ngf=32, n_downsample_global=4, n_blocks_global=9,
                                 n_local_enhancers=1, n_blocks_local=3)
        d3 = MultiscaleDiscriminator(39, ndf=64, n_layers=3, num_D=3)
        e = InstanceEncoder(3, 3, nef=16, n_downsampling=4)
    assert _count(g1) == G1_PAPER
    assert enhancer.num_parameters() == G1_G2_PAPER
    # The course keeps G1's 7x7 head (9,411 parameters) for G1's own output.
    assert _count(enhancer) == G1_G2_PAPER + 9_411
    assert _count(d3) == D3_PAPER
    assert _count(e) == E_PAPER


def test_global_generator_shapes_and_features() -> None:
    torch.manual_seed(0)
    G = GlobalGenerator(12, 3, ngf=4, n_downsampling=3, n_blocks=2)
    x = torch.randn(2, 12, 16, 40)                          # 2.5:1, any multiple of 8
    y = G(x)
    assert y.shape == (2, 3, 16, 40) and y.abs().max() <= 1
    assert G.features(x).shape == (2, 4, 16, 40)
    assert torch.allclose(G.head(G.features(x)), y)


def test_local_enhancer_adds_its_front_end_to_g1_features() -> None:
    torch.manual_seed(0)
    G = LocalEnhancer(9, 3, ngf=4, n_downsample_global=2, n_blocks_global=1,
                      n_local_enhancers=1, n_blocks_local=1)
    x = torch.randn(1, 9, 16, 32)
    assert G(x).shape == (1, 3, 16, 32)
    assert G.coarse(x).shape == (1, 3, 8, 16)
    feat = G.global_generator.features(downsample(x))
    e = G.enhancers[0]
    assert torch.allclose(G(x), G.head(e.back(e.front(x) + feat)))
    # Two enhancers: G1 at a quarter of the resolution, width ngf * 4.
    G2 = LocalEnhancer(9, 3, ngf=2, n_downsample_global=2, n_blocks_global=1,
                       n_local_enhancers=2, n_blocks_local=1)
    assert G2.global_generator.ngf == 8 and G2(torch.randn(1, 9, 32, 64)).shape == (1, 3, 32, 64)


def test_local_enhancer_wraps_a_trained_g1() -> None:
    g1 = GlobalGenerator(9, 3, ngf=8, n_downsampling=2, n_blocks=1)
    G = LocalEnhancer(9, 3, ngf=4, n_downsample_global=2, n_blocks_global=1,
                      global_generator=g1)
    assert G.global_generator is g1
    with pytest.raises(ValueError, match="ngf"):
        LocalEnhancer(9, 3, ngf=8, n_downsample_global=2, n_blocks_global=1,
                      global_generator=g1)


def test_multiscale_discriminator_scales_and_features() -> None:
    D = MultiscaleDiscriminator(6, ndf=4, n_layers=3, num_D=3)
    x = torch.randn(2, 6, 128, 256)
    logits = D(x)
    # official padding 2: 128 -> 19, 64 -> 11, 32 -> 7 (padding 1 would give 14, 6, 2)
    assert [tuple(o.shape) for o in logits] == [(2, 1, 19, 35), (2, 1, 11, 19), (2, 1, 7, 11)]
    feats = D(x, return_features=True)
    assert len(feats) == 3 and all(len(f) == 5 for f in feats)
    assert torch.equal(feats[1][-1], logits[1])
    # Scale k sees the input down-sampled k times by the 3x3/2 average pool.
    assert torch.allclose(D.discriminators[2](downsample(x, 2)), logits[2])


def test_max_num_d_and_too_small_inputs() -> None:
    assert max_num_D(64, 128) == 2 and max_num_D(128, 256) == 3 and max_num_D(32, 64) == 1
    D = MultiscaleDiscriminator(6, ndf=4, num_D=3)
    with pytest.raises(ValueError, match="num_D <= 2"):
        D(torch.randn(1, 6, 64, 128))


def test_residual_block_is_identity_plus_branch() -> None:
    blk = ResnetBlock(4)
    x = torch.randn(1, 4, 6, 6)
    assert torch.allclose(blk(x), x + blk.block(x))


@pytest.mark.parametrize("shape, match", [
    ((1, 12, 30, 64), "divisible by 16"),
    ((1, 11, 32, 64), "in_channels=12"),
    ((12, 32, 64), r"\(N, C, H, W\)"),
])
def test_bad_inputs_name_the_problem(shape: tuple[int, ...], match: str) -> None:
    G = GlobalGenerator(12, 3, ngf=2, n_downsampling=4, n_blocks=1)
    with pytest.raises(ValueError, match=match):
        G(torch.randn(*shape))


def test_size_error_names_nearest_valid_sizes() -> None:
    G = GlobalGenerator(3, 3, ngf=2, n_downsampling=4, n_blocks=0)
    with pytest.raises(ValueError, match="height of 96 or 112"):
        G(torch.randn(1, 3, 100, 64))


def test_bad_constructor_arguments() -> None:
    with pytest.raises(ValueError, match="n_blocks"):
        GlobalGenerator(3, n_blocks=-1)
    with pytest.raises(ValueError, match="norm"):
        GlobalGenerator(3, norm="layer")
    with pytest.raises(ValueError, match="num_D"):
        MultiscaleDiscriminator(6, num_D=0)


def test_gradient_checkpointing_gives_the_same_gradients() -> None:
    torch.manual_seed(0)
    G = GlobalGenerator(4, 3, ngf=4, n_downsampling=2, n_blocks=2)
    x = torch.randn(1, 4, 16, 16)
    G(x).sum().backward()
    plain = [p.grad.clone() for p in G.parameters()]
    G.zero_grad()
    G.gradient_checkpointing = True
    G(x).sum().backward()
    assert all(torch.allclose(a, p.grad, atol=1e-6) for a, p in zip(plain, G.parameters()))

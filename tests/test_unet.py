"""The U-Net generator (pix2pix Appendix 6.1.1): parameter counts, shapes, sizes, test mode."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from course_lib.models import (UNetBlock, UNetGenerator, at_test_time, check_unet_size,
                               init_weights, set_test_mode, valid_unet_sizes)

# unet_256 of the official PyTorch implementation (junyanz/pytorch-CycleGAN-and-pix2pix),
# worked out layer by layer: encoder convs 19,532,800 + encoder BN 4,864
# + decoder transposed convs 34,871,299 (the last with a bias of 3) + decoder BN 4,992.
UNET_256_PARAMS = 54_413_955
# The same without skips: every decoder conv but the innermost sees half the channels.
ENCODER_DECODER_256_PARAMS = 39_075_459


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.fixture(scope="module")
def paper_unet() -> UNetGenerator:
    torch.manual_seed(0)
    return UNetGenerator(in_channels=3, out_channels=3, num_downs=8, ngf=64, norm="batch")


def test_parameter_count_equals_official_unet_256(paper_unet: UNetGenerator) -> None:
    assert n_params(paper_unet) == UNET_256_PARAMS


def test_encoder_decoder_baseline_has_fewer_parameters_and_runs() -> None:
    g = UNetGenerator(num_downs=8, ngf=64, skip=False)
    assert n_params(g) == ENCODER_DECODER_256_PARAMS
    # The difference is exactly the weights that read the skip halves of the concatenations:
    # levels i = 1..7 have a transposed conv from widths[i] (skip half) to widths[i-1] (or 3).
    widths = [64 * min(2 ** i, 8) for i in range(8)]
    outs = [3] + widths[:-1]
    skip_weights = sum(widths[i] * outs[i] * 16 for i in range(7))
    assert UNET_256_PARAMS - ENCODER_DECODER_256_PARAMS == skip_weights
    small = UNetGenerator(num_downs=5, ngf=8, skip=False)
    y = small(torch.randn(2, 3, 32, 32))
    assert y.shape == (2, 3, 32, 32)


@pytest.mark.parametrize("num_downs,size,ngf", [(5, 32, 8), (6, 64, 8), (4, 64, 4)])
def test_output_shapes_and_range(num_downs: int, size: int, ngf: int) -> None:
    g = UNetGenerator(in_channels=1, out_channels=3, num_downs=num_downs, ngf=ngf)
    y = g(torch.randn(2, 1, size, size))
    assert y.shape == (2, 3, size, size)
    assert y.abs().max() <= 1.0                       # Tanh output


def test_paper_configuration_at_256px(paper_unet: UNetGenerator) -> None:
    g = paper_unet.eval()
    with torch.no_grad():
        assert g(torch.randn(1, 3, 256, 256)).shape == (1, 3, 256, 256)


def test_non_square_inputs_that_are_multiples_work() -> None:
    g = UNetGenerator(num_downs=5, ngf=4)
    assert g(torch.randn(2, 3, 32, 64)).shape == (2, 3, 32, 64)


def test_bad_size_error_names_size_and_nearest_valid_sizes() -> None:
    g = UNetGenerator(num_downs=8, ngf=4)
    with pytest.raises(ValueError) as err:
        g(torch.randn(1, 3, 300, 300))
    msg = str(err.value)
    assert "300x300" in msg and "256 or 512" in msg and "Resize" in msg and "num_downs" in msg
    with pytest.raises(ValueError, match=r"width 384 -> 256 or 512"):
        g(torch.randn(1, 3, 256, 384))              # height fine, width not
    with pytest.raises(ValueError, match=r"height 100 -> 256"):
        check_unet_size(100, 256, 8)                 # below the smallest valid side
    assert valid_unet_sizes(300, 8) == [256, 512]
    assert valid_unet_sizes(100, 8) == [256]
    assert valid_unet_sizes(512, 8) == [512]
    check_unet_size(256, 512, 8)                    # 2:1 at multiples of 256 is fine


def test_bad_arguments_and_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="norm='group'"):
        UNetGenerator(norm="group")
    with pytest.raises(ValueError, match="num_downs=1"):
        UNetGenerator(num_downs=1)
    g = UNetGenerator(in_channels=3, num_downs=5, ngf=4)
    with pytest.raises(ValueError, match="in_channels=3 but the input has 1"):
        g(torch.randn(1, 1, 32, 32))
    with pytest.raises(ValueError, match="unsqueeze"):
        g(torch.randn(3, 32, 32))


def test_layer_layout_follows_the_paper() -> None:
    g = UNetGenerator(num_downs=8, ngf=8)
    convs = [m for m in g.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 16, 32, 64, 64, 64, 64, 64]   # C64-...-C512
    assert all(c.kernel_size == (4, 4) and c.stride == (2, 2) for c in convs)
    # official layout: the outermost down path is the conv alone; every deeper level starts
    # with LeakyReLU(0.2) and every up path with ReLU (on the concatenation)
    first = g.model.down
    assert len(first) == 1 and isinstance(first[0], nn.Conv2d)
    second = g.model.inner.down
    assert isinstance(second[0], nn.LeakyReLU) and isinstance(second[1], nn.Conv2d)
    assert second[0].negative_slope == pytest.approx(0.2)
    assert isinstance(g.model.up[0], nn.ReLU) and isinstance(g.model.inner.up[0], nn.ReLU)
    # only the last (output) convolution has a bias with batch norm
    ups = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [u.bias is not None for u in ups] == [False] * 7 + [True]   # innermost first
    assert isinstance(g.model.up[-1], nn.Tanh)
    # official dropout: the 2nd-4th decoder layers from the innermost (levels 4, 5, 6 of 0..7)
    def dropout_per_level(unet: UNetGenerator) -> list[bool]:
        levels, block = [], unet.model
        while block is not None:
            levels.append(any(isinstance(m, nn.Dropout) for m in block.up))
            block = block.inner
        return levels
    assert dropout_per_level(g) == [False] * 4 + [True] * 3 + [False]
    # the paper's CD512-CD1024-CD1024 reading: the three innermost levels
    paper = UNetGenerator(num_downs=8, ngf=8, dropout_layout="paper")
    assert dropout_per_level(paper) == [False] * 5 + [True] * 3
    assert not any(dropout_per_level(UNetGenerator(num_downs=5, ngf=4)))   # official: none
    assert not any(isinstance(m, nn.Dropout) for m in UNetGenerator(use_dropout=False,
                                                                    num_downs=5, ngf=4).modules())


def test_instance_and_no_norm() -> None:
    g = UNetGenerator(num_downs=5, ngf=4, norm="instance")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in g.modules())
    assert all(m.bias is not None for m in g.modules() if isinstance(m, (nn.Conv2d,
                                                                          nn.ConvTranspose2d)))
    assert g(torch.randn(1, 3, 32, 32)).shape == (1, 3, 32, 32)
    g = UNetGenerator(num_downs=5, ngf=4, norm="none")
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) for m in g.modules())
    assert g(torch.randn(1, 3, 32, 32)).shape == (1, 3, 32, 32)


def test_paper_test_mode_keeps_dropout_and_eval_mode_does_not() -> None:
    torch.manual_seed(0)
    g = UNetGenerator(num_downs=6, ngf=8)          # official dropout: one level at 6 levels
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        set_test_mode(g, "paper")
        assert g.training
        a, b = g(x), g(x)
        assert not torch.allclose(a, b)             # dropout on: two passes differ
        set_test_mode(g, "eval")
        assert not g.training
        c, d = g(x), g(x)
        assert torch.equal(c, d)                     # deterministic
    with pytest.raises(ValueError, match="mode='test'"):
        set_test_mode(g, "test")                     # type: ignore[arg-type]


def test_at_test_time_restores_flags_and_running_statistics() -> None:
    torch.manual_seed(0)
    g = UNetGenerator(num_downs=5, ngf=8).train()
    bn = next(m for m in g.modules() if isinstance(m, nn.BatchNorm2d))
    before = bn.running_mean.clone()
    with torch.no_grad(), at_test_time(g, "paper") as model:
        assert model is g and g.training
        g(torch.randn(2, 3, 32, 32) * 5 + 3)         # would move the running averages
        assert not torch.equal(bn.running_mean, before)
    assert torch.equal(bn.running_mean, before)
    assert g.training
    g.eval()
    with at_test_time(g, "paper"):
        assert g.training
    assert not g.training


def test_init_statistics_and_config_rebuilds() -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(512, 512, 4)
    bn = nn.BatchNorm2d(8192)
    net = init_weights(nn.Sequential(conv, bn))
    assert conv.weight.std().item() == pytest.approx(0.02, rel=0.02)
    assert abs(conv.weight.mean().item()) < 1e-3
    assert torch.count_nonzero(conv.bias) == 0
    assert bn.weight.mean().item() == pytest.approx(1.0, abs=2e-3)
    assert bn.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert torch.count_nonzero(bn.bias) == 0
    assert net[0] is conv
    g = UNetGenerator(num_downs=5, ngf=32)            # the model initializes itself
    big = max((m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)),
              key=lambda m: m.weight.numel())
    assert big.weight.std().item() == pytest.approx(0.02, rel=0.05)
    rebuilt = UNetGenerator(**g.config)
    rebuilt.load_state_dict(g.state_dict())
    assert n_params(rebuilt) == n_params(g)
    with pytest.raises(ValueError, match="gain=-1"):
        init_weights(conv, gain=-1)


def test_custom_block_class_is_used() -> None:
    class CountingBlock(UNetBlock):
        calls = 0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            CountingBlock.calls += 1
            return super().forward(x)

    g = UNetGenerator(num_downs=4, ngf=4, block=CountingBlock)
    g(torch.randn(1, 3, 16, 16))
    assert CountingBlock.calls == 4
    assert n_params(g) == n_params(UNetGenerator(num_downs=4, ngf=4))

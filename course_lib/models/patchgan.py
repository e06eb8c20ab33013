"""The discriminators of pix2pix: PatchGAN, PixelGAN and ImageGAN.

Isola et al., CVPR 2017, Sec. 3.2.2 ("Markovian discriminator (PatchGAN)"), Sec. 4.4 (the
patch-size sweep of Fig. 6 and Table 3) and Appendix 6.1.2. The 70x70 discriminator is::

    C64-C128-C256-C512, then a convolution to 1 channel     (no BatchNorm on C64)

with 4x4 convolutions and LeakyReLU(0.2). D classifies every N x N patch of the (input,
output) pair as real or fake; the map of logits is averaged by the loss. The patch size N is
the receptive field of one output unit: 1 (PixelGAN), 16, 34, 70, 142 and 286 for
``n_layers`` = 0 (:class:`PixelDiscriminator`), 1, 2, 3, 4 and 5.

Layer by layer, as in the official implementation (whose parameter counts these match):
``n_layers`` stride-2 convolutions with widths ``ndf * min(2**i, 8)``, one stride-1
convolution, and a stride-1 convolution to one logit channel; padding 1 everywhere, so a
256 px pair gives a 30x30 map at ``n_layers=3``. With batch norm, only the first and the last
convolutions carry a bias; the PixelGAN's last 1x1 convolution has none either (9,024
parameters for ``ndf=64``), exactly as the official code.

Two options serve the networks built on this one: ``padding=2`` with ``conv_bias=True`` and
``max_channels=512`` is pix2pixHD's PatchGAN (its 4x4 convolutions pad by ``ceil(3/2) = 2``,
every convolution keeps its bias, widths ``min(2 * previous, 512)``); ``conv_bias=True`` alone
is BicycleGAN's. Padding does not change the receptive field, only the map size (35x35 at
256 px with ``padding=2``).

The paper's "286x286 ImageGAN" is ``PatchDiscriminator(n_layers=5)``: at 256 px its 6x6 units
each see 286 px, partly padding. :class:`ImageDiscriminator` is the strict whole-image variant:
one logit per image from a unit whose field covers every pixel.

Conditional or not: pix2pix's D sees the input and the output concatenated along channels
(``in_channels = 3 + 3 = 6``, Eq. 1); an unconditional D (Eq. 2, Table 1's "GAN") sees the
output only (``in_channels=3``).

Every discriminator also returns its intermediate activations (``forward_features`` or
``return_features=True``), which pix2pixHD's feature-matching loss (Wang et al. 2018, Eq. 4)
compares between real and fake pairs.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from course_lib.models.init import init_weights
from course_lib.models.norm import check_norm, conv_bias, make_norm

__all__ = ["PatchDiscriminator", "PixelDiscriminator", "ImageDiscriminator",
           "patch_receptive_field", "patch_map_size"]


def patch_receptive_field(n_layers: int) -> int:
    """Patch size seen by one output unit of ``PatchDiscriminator(n_layers=n_layers)``.

    ``n`` stride-2 4x4 convolutions at jumps 1, 2, ..., 2**(n-1), then two stride-1 ones at
    jump 2**n; each adds ``3 * jump``, so the field is
    ``1 + 3 * (2**n - 1) + 2 * 3 * 2**n = 9 * 2**n - 2`` (1 for ``n_layers=0``, the PixelGAN).
    """
    if n_layers < 0:
        raise ValueError(f"n_layers={n_layers} must be >= 0")
    return 1 if n_layers == 0 else 9 * 2 ** n_layers - 2


def patch_map_size(side: int, n_layers: int = 3, padding: int = 1) -> int:
    """Side of the logit map of ``PatchDiscriminator(n_layers, padding=padding)`` on ``side`` px.

    Each 4x4 convolution maps ``s`` to ``floor((s + 2 * padding - 4) / stride) + 1``:
    ``n_layers`` with stride 2, then two with stride 1. With ``padding=1``: 256 -> 30,
    128 -> 14; with pix2pixHD's ``padding=2``: 256 -> 35, 128 -> 19, 64 -> 11, 32 -> 7.
    """
    s = side
    for stride in [2] * n_layers + [1, 1]:
        s = (s + 2 * padding - 4) // stride + 1
    return s


class _FeatureDiscriminator(nn.Module):
    """Shared forward of the discriminators: a sequence of stages, features on request."""

    in_channels: int
    stages: nn.Sequential

    def _check_input(self, x: torch.Tensor) -> None:
        name = type(self).__name__
        if x.dim() != 4:
            raise ValueError(f"{name} expects a batch (N, C, H, W), got shape {tuple(x.shape)}")
        if x.shape[1] != self.in_channels:
            hint = (" (a conditional D sees cat([input, output], dim=1); build it with "
                    "in_channels equal to the output's channels for an unconditional D)")
            raise ValueError(f"{name} was built for in_channels={self.in_channels} but got "
                             f"{x.shape[1]} channels (shape {tuple(x.shape)}){hint}")

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The output of every stage, in order; the last one is the map of logits.

        A stage is a convolution with its norm and activation, so for ``PatchDiscriminator``
        there are ``n_layers + 2`` of them.
        """
        self._check_input(x)
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features

    def forward(self, x: torch.Tensor, return_features: bool = False
                ) -> torch.Tensor | list[torch.Tensor]:
        """Logits ``(N, 1, H', W')`` (no sigmoid: the losses take logits).

        With ``return_features=True``, the list of :meth:`forward_features` instead.
        """
        if return_features:
            return self.forward_features(x)
        self._check_input(x)
        return self.stages(x)


def _conv_stage(cin: int, cout: int, kernel: int | tuple[int, int], stride: int, padding: int,
                norm: str | None, bias: bool | None = None) -> nn.Sequential:
    """Conv -> norm -> LeakyReLU(0.2); ``norm=None`` means no norm and a bias; ``bias=None``
    lets the norm decide (:func:`~course_lib.models.norm.conv_bias`)."""
    if bias is None:
        bias = True if norm is None else conv_bias(norm)
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding,
                                         bias=bias)]
    if norm is not None:
        layers.append(make_norm(norm, cout))
    layers.append(nn.LeakyReLU(0.2))
    return nn.Sequential(*layers)


class PatchDiscriminator(_FeatureDiscriminator):
    """The N-layer PatchGAN (70x70 for ``n_layers=3``, the paper's default).

    Args:
        in_channels: 6 for the conditional D (input and output, 3 channels each), 3 for an
            unconditional one (output only); in general input channels + output channels.
        ndf: width of the first layer (64 in the paper).
        n_layers: number of stride-2 convolutions; the patch size is 16, 34, 70, 142, 286 for
            1..5 (see :func:`patch_receptive_field`). For a 1x1 patch use
            :class:`PixelDiscriminator`.
        norm: ``"batch"`` (the paper), ``"instance"`` (pix2pixHD) or ``"none"``.
        padding: of every 4x4 convolution: 1 (pix2pix, BicycleGAN) or 2 (pix2pixHD).
        conv_bias: ``None`` (pix2pix: no bias before batch norm) or ``True`` (pix2pixHD and
            BicycleGAN keep every bias).
        max_channels: the widest layer; ``None`` is ``8 * ndf`` (pix2pix), pix2pixHD caps at 512.

    Shapes: ``(N, in_channels, H, W) -> (N, 1, H/2**n_layers - 2, W/2**n_layers - 2)``,
    e.g. 256 -> 30 for ``n_layers=3`` (with ``padding=2``: 256 -> 35, see
    :func:`patch_map_size`). ``config`` holds the constructor arguments.
    """

    def __init__(self, in_channels: int = 6, ndf: int = 64, n_layers: int = 3,
                 norm: str = "batch", padding: int = 1, conv_bias: bool | None = None,
                 max_channels: int | None = None) -> None:
        super().__init__()
        check_norm(norm)
        if n_layers < 1:
            raise ValueError(f"n_layers={n_layers}: PatchDiscriminator needs n_layers >= 1; "
                             f"the 1x1 PixelGAN is PixelDiscriminator")
        if in_channels < 1 or ndf < 1:
            raise ValueError(f"in_channels={in_channels} and ndf={ndf} must be positive")
        if padding not in (1, 2):
            raise ValueError(f"padding={padding}: use 1 (pix2pix) or 2 (pix2pixHD)")
        self.config: dict[str, Any] = dict(in_channels=in_channels, ndf=ndf, n_layers=n_layers,
                                           norm=norm)
        for key, value, default in (("padding", padding, 1), ("conv_bias", conv_bias, None),
                                    ("max_channels", max_channels, None)):
            if value != default:
                self.config[key] = value
        self.in_channels, self.n_layers, self.padding = in_channels, n_layers, padding
        cap = 8 * ndf if max_channels is None else max_channels
        widths = [min(ndf * 2 ** i, cap) for i in range(n_layers + 1)]
        p, b = padding, conv_bias
        stages = [_conv_stage(in_channels, widths[0], 4, 2, p, norm=None)]   # H/2, no norm
        for i in range(1, n_layers):
            stages.append(_conv_stage(widths[i - 1], widths[i], 4, 2, p, norm, b))  # H/2**(i+1)
        stages.append(_conv_stage(widths[n_layers - 1], widths[n_layers], 4, 1, p, norm, b))
        stages.append(nn.Sequential(nn.Conv2d(widths[n_layers], 1, 4, stride=1, padding=p)))
        self.stages = nn.Sequential(*stages)
        init_weights(self)

    @property
    def receptive_field(self) -> int:
        """The patch size (side, in pixels) each output logit judges."""
        return patch_receptive_field(self.n_layers)


class PixelDiscriminator(_FeatureDiscriminator):
    """The 1x1 PixelGAN: 1x1 convolutions only, so each logit judges one pixel (Sec. 4.4).

    ``C64 - C128 - 1`` with 1x1 kernels and LeakyReLU(0.2), batch norm on the middle layer;
    with batch norm only the first convolution has a bias, as in the official code (9,024
    parameters for ``in_channels=6, ndf=64``).
    ``(N, in_channels, H, W) -> (N, 1, H, W)``.
    """

    def __init__(self, in_channels: int = 6, ndf: int = 64, norm: str = "batch") -> None:
        super().__init__()
        check_norm(norm)
        if in_channels < 1 or ndf < 1:
            raise ValueError(f"in_channels={in_channels} and ndf={ndf} must be positive")
        self.config: dict[str, Any] = dict(in_channels=in_channels, ndf=ndf, norm=norm)
        self.in_channels = in_channels
        self.stages = nn.Sequential(
            _conv_stage(in_channels, ndf, 1, 1, 0, norm=None),
            _conv_stage(ndf, 2 * ndf, 1, 1, 0, norm),
            # the official code gives the last 1x1 conv a bias only without batch norm
            nn.Sequential(nn.Conv2d(2 * ndf, 1, 1, bias=conv_bias(norm))),
        )
        init_weights(self)

    @property
    def receptive_field(self) -> int:
        """The patch size each output logit judges: 1."""
        return 1


class ImageDiscriminator(_FeatureDiscriminator):
    """ImageGAN: one logit per image, from a unit that sees every pixel.

    Design (the paper's ImageGAN at 256 px is the 286x286 PatchGAN; this is the strict form):
    4x4 stride-2 convolutions with widths ``ndf * min(2**i, 8)`` halve the image until its
    shorter side is at most 4 (at least one of them), then one convolution whose kernel is the
    whole remaining map (no padding) gives a 1x1 output. Its receptive field therefore covers
    the whole image (check with :func:`~course_lib.models.receptive_field.receptive_field`).
    The last convolution depends on the map size, so the input must be ``image_size``.

    Args:
        in_channels: 6 for the conditional D, 3 for an unconditional one.
        ndf: width of the first layer.
        image_size: side of the square images, or ``(height, width)``; at least 8.
        norm: ``"batch"``, ``"instance"`` or ``"none"``.

    ``(N, in_channels, H, W) -> (N, 1, 1, 1)``.
    """

    def __init__(self, in_channels: int = 6, ndf: int = 64, image_size: int | tuple[int, int] = 256,
                 norm: str = "batch") -> None:
        super().__init__()
        check_norm(norm)
        h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        if min(h, w) < 8:
            raise ValueError(f"image_size={image_size}: ImageDiscriminator needs sides >= 8")
        if in_channels < 1 or ndf < 1:
            raise ValueError(f"in_channels={in_channels} and ndf={ndf} must be positive")
        self.config: dict[str, Any] = dict(in_channels=in_channels, ndf=ndf,
                                           image_size=image_size, norm=norm)
        self.in_channels, self.image_size = in_channels, (h, w)
        n_down = max(1, math.ceil(math.log2(min(h, w) / 4)))
        stages: list[nn.Module] = []
        cin = in_channels
        for i in range(n_down):
            cout = ndf * min(2 ** i, 8)
            stages.append(_conv_stage(cin, cout, 4, 2, 1, None if i == 0 else norm))
            cin, h, w = cout, h // 2, w // 2                    # a 4x4/2/1 conv floors H/2
        stages.append(nn.Sequential(nn.Conv2d(cin, 1, (h, w))))   # (N, 1, 1, 1)
        self.stages = nn.Sequential(*stages)
        init_weights(self)

    def _check_input(self, x: torch.Tensor) -> None:
        super()._check_input(x)
        if tuple(x.shape[2:]) != self.image_size:
            raise ValueError(f"ImageDiscriminator was built for image_size={self.image_size} "
                             f"(HxW) but got {tuple(x.shape[2:])}; build it with the size of "
                             f"your images")

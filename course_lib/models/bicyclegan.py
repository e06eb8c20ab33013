"""The networks of BicycleGAN: the latent encoder E, the U-Net generator G(A, z) and the
two-scale discriminator.

Zhu et al., "Toward Multimodal Image-to-Image Translation", NeurIPS 2017. The model maps an
input A and a low-dimensional latent code z (``nz = 8``, Sec. 3.5 and the official defaults) to
an output B^ = G(A, z); the encoder E maps an image B back to a Gaussian over z (Sec. 3.2).

* :class:`LatentEncoder` -- E, "a ResNet" (Sec. 3.5; He et al. 2016) that outputs the mean and
  the log-variance of q(z | B). Layer by layer as the official ``E_ResNet`` (``resnet_256``):
  a 4x4 stride-2 convolution to ``nef`` channels, then ``n_blocks - 1`` residual blocks that
  each halve the resolution (widths ``nef * min(n + 1, 4)``: 128, 192, 256, 256 for
  ``nef=64``), a LeakyReLU, average pooling and two linear heads (mean and log-variance).
  A residual block is ``norm-lrelu-conv3x3-norm-lrelu-conv3x3-avgpool2`` plus the shortcut
  ``avgpool2-conv1x1``. The official code pools the final 8x8 map with ``AvgPool2d(8)``
  (``n_blocks`` = 5 at 256 px, 4 at 128 px); here the pooling is global, which is the same at
  those sizes and lets :func:`encoder_blocks` pick the depth for any size (3 at 64 px).
  ``vae_like=False`` drops the log-variance head (the official ``vaeLike`` off).
* :func:`reparameterize` -- z = mu + exp(logvar / 2) * eps with eps ~ N(0, I) (Kingma & Welling
  2014), so that z is differentiable with respect to mu and logvar (Sec. 3.2, Eq. 4).
* :class:`LatentUNetGenerator` -- the pix2pix U-Net (:mod:`course_lib.models.unet`) with z
  spatially replicated to an ``nz``-channel map and concatenated either to the input only
  (``where_add="input"``, the official ``G_Unet_add_input``) or to the input of *every*
  encoder level (``"all"``, ``G_Unet_add_all``, the official default): the two ways of
  injecting z that Sec. 3.5 and Fig. 3 compare ("add_to_input" vs "add_to_all"). As in the
  official blocks, each level concatenates z to its input *before* the level's LeakyReLU
  (so the down-sampling convolution sees LeakyReLU of z too), every level returns
  ``cat([up, x])`` (up-sampled output first, unlike pix2pix), every convolution has a bias,
  and ``upsample="basic"`` (a 4x4 transposed convolution) is the up-sampling layer.
* :class:`BicycleDiscriminator` -- the official ``D_NLayersMulti`` with ``num_D=2``: a 70x70
  PatchGAN on the image and a second one, with half the filters, on the image downsampled by
  a 3x3 stride-2 average pool (count_include_pad=False); it returns one logit map per scale.

BicycleGAN's defaults differ from pix2pix's in three places, all followed here: instance
normalization (without learned scale and shift, so every convolution keeps its bias), no
dropout in the network's own default (``define_G(use_dropout=False)``; every official training
script passes ``--use_dropout``, so the course's trainers switch it on, see
:func:`latent_dropout_levels`), and D sees the output only, not the (input, output) pair
(``conditional_D`` is off in the official code; see :mod:`course_lib.train.bicyclegan`).
With these settings the parameter counts agree with the official networks exactly (the tests
pin them). Weights are initialized from N(0, 0.02) as everywhere in the course (the official
code defaults to Xavier-normal with gain 0.02 instead).
"""
from __future__ import annotations

import math
from functools import partial
from typing import Any, Literal

import torch
from torch import nn

from course_lib.models.init import init_weights
from course_lib.models.norm import check_norm, make_norm
from course_lib.models.patchgan import PatchDiscriminator
from course_lib.models.unet import (UPSAMPLE, UNetBlock, check_unet_size, dropout_levels,
                                    make_activation)

__all__ = ["LatentEncoder", "ResidualDownBlock", "encoder_blocks", "reparameterize",
           "LatentUNetGenerator", "LatentUNetBlock", "BicycleDiscriminator", "WHERE_ADD",
           "expand_latent", "latent_dropout_levels"]

WhereAdd = Literal["input", "all"]
WHERE_ADD: tuple[str, ...] = ("input", "all")


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Sample z ~ N(mu, exp(logvar)) as ``mu + exp(logvar / 2) * eps``, eps ~ N(0, I).

    The "reparameterization trick" (Kingma & Welling 2014) used by BicycleGAN's cVAE-GAN
    (Zhu et al. 2017, Sec. 3.2): the randomness sits in ``eps``, so gradients reach ``mu``
    and ``logvar``. ``generator`` makes the draw reproducible without touching the global RNG.
    """
    if mu.shape != logvar.shape:
        raise ValueError(f"mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} must have the "
                         f"same shape (N, nz)")
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype,
                      device="cpu" if generator is not None else mu.device).to(mu.device)
    return mu + torch.exp(0.5 * logvar) * eps


def expand_latent(z: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(N, nz) -> (N, nz, H, W): each code replicated over the image, as G consumes it."""
    return z[:, :, None, None].expand(z.shape[0], z.shape[1], height, width)


def encoder_blocks(image_size: int) -> int:
    """Residual blocks of :class:`LatentEncoder` that bring ``image_size`` to an 8x8 map before
    pooling, as the official encoders do (5 at 256 px, 4 at 128 px, 3 at 64 px, 2 at 32 px)."""
    if image_size < 32 or image_size & (image_size - 1):
        raise ValueError(f"image_size={image_size}: use a power of two >= 32 (or pass n_blocks "
                         f"to LatentEncoder yourself)")
    return int(math.log2(image_size)) - 3


class ResidualDownBlock(nn.Module):
    """One residual block of E that halves the resolution (the official ``BasicBlock``).

    ``x -> norm -> lrelu -> conv3x3(C_in, C_in) -> norm -> lrelu -> conv3x3(C_in, C_out) ->
    avgpool2``, plus the shortcut ``avgpool2 -> conv1x1(C_in, C_out)``; the two are added.
    """

    def __init__(self, in_channels: int, out_channels: int, norm: str = "instance") -> None:
        super().__init__()
        self.body = nn.Sequential(
            make_norm(norm, in_channels), nn.LeakyReLU(0.2),
            nn.Conv2d(in_channels, in_channels, 3, padding=1),
            make_norm(norm, in_channels), nn.LeakyReLU(0.2),
            nn.Conv2d(in_channels, out_channels, 3, padding=1),
            nn.AvgPool2d(2))
        self.shortcut = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(in_channels, out_channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)      # (N, C_out, H/2, W/2)


class LatentEncoder(nn.Module):
    """E: an image B -> (mu, logvar) of q(z | B), each (N, nz) (Zhu et al. 2017, Sec. 3.2, 3.5).

    Args:
        in_channels: channels of B (3).
        nz: dimension of the latent code (8 in the paper).
        nef: width of the first convolution (64 in the paper).
        n_blocks: 1 + the number of residual blocks (5 for 256 px, the official
            ``resnet_256``; :func:`encoder_blocks` gives the value for other sizes).
        norm: ``"instance"`` (the paper), ``"batch"`` or ``"none"``.

    ``forward`` returns ``(mu, logvar)``; :meth:`encode` also samples ``z`` with
    :func:`reparameterize`. In the cLR-GAN branch only ``mu`` is used, as a point estimate
    of z (Sec. 3.3). ``config`` holds the constructor arguments.
    """

    def __init__(self, in_channels: int = 3, nz: int = 8, nef: int = 64, n_blocks: int = 5,
                 norm: str = "instance", vae_like: bool = True) -> None:
        super().__init__()
        check_norm(norm)
        for name, value in (("in_channels", in_channels), ("nz", nz), ("nef", nef)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer")
        if isinstance(n_blocks, bool) or not isinstance(n_blocks, int) or n_blocks < 2:
            raise ValueError(f"n_blocks={n_blocks!r}: the encoder needs at least 2 (one stem "
                             f"convolution and one residual block); 5 is the paper's at 256 px")
        self.config: dict[str, Any] = dict(in_channels=in_channels, nz=nz, nef=nef,
                                           n_blocks=n_blocks, norm=norm)
        if not vae_like:
            self.config["vae_like"] = False
        self.in_channels, self.nz, self.vae_like = in_channels, nz, vae_like
        layers: list[nn.Module] = [nn.Conv2d(in_channels, nef, 4, stride=2, padding=1)]
        width = nef
        for n in range(1, n_blocks):
            width = nef * min(n + 1, 4)
            layers.append(ResidualDownBlock(nef * min(n, 4), width, norm))
        layers += [nn.LeakyReLU(0.2), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)       # (N, width)
        self.fc_mu = nn.Linear(width, nz)
        self.fc_logvar = nn.Linear(width, nz) if vae_like else None
        init_weights(self)

    def forward(self, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(N, in_channels, H, W)`` -> ``(mu, logvar)``, each ``(N, nz)`` (``logvar`` is
        ``None`` when ``vae_like=False``)."""
        if b.dim() != 4 or b.shape[1] != self.in_channels:
            raise ValueError(f"LatentEncoder expects images (N, {self.in_channels}, H, W), got "
                             f"shape {tuple(b.shape)}")
        min_side = 2 ** self.config["n_blocks"]
        if min(b.shape[-2:]) < min_side:
            raise ValueError(f"LatentEncoder(n_blocks={self.config['n_blocks']}) halves the "
                             f"image {self.config['n_blocks']} times: sides must be at least "
                             f"{min_side} px, got {tuple(b.shape[-2:])}; use fewer n_blocks "
                             f"(encoder_blocks(size))")
        h = self.features(b)
        return self.fc_mu(h), (self.fc_logvar(h) if self.fc_logvar is not None else None)

    def encode(self, b: torch.Tensor, generator: torch.Generator | None = None
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(z, mu, logvar)``: a sample of q(z | b) and its parameters."""
        mu, logvar = self(b)
        if logvar is None:
            raise ValueError("this LatentEncoder was built with vae_like=False: it gives a point "
                             "estimate mu only; use encoder(b)[0]")
        return reparameterize(mu, logvar, generator), mu, logvar


def latent_dropout_levels(num_downs: int, where_add: str) -> list[bool]:
    """Which decoder levels of :class:`LatentUNetGenerator` get dropout, innermost first.

    ``"input"`` (the official ``G_Unet_add_input``): the pix2pix layout,
    :func:`~course_lib.models.unet.dropout_levels` (levels 2 to ``num_downs - 4`` from the
    innermost; none for ``num_downs <= 5``). ``"all"`` (``G_Unet_add_all``): the official class
    always builds the level just above the innermost with dropout, then ``num_downs - 6`` more,
    so the same layout for ``num_downs >= 6`` and, for the smaller U-Nets the course trains at
    32 px (5 levels, which the official class cannot build), that one level still has it.
    """
    drop = dropout_levels(num_downs, "official")
    if where_add == "all" and num_downs >= 3:
        drop[1] = True
    return drop


class LatentUNetBlock(UNetBlock):
    """A :class:`~course_lib.models.unet.UNetBlock` whose input is ``cat([x, z])``, with z
    replicated to an ``nz``-channel map at this level's resolution ("add_to_all", the
    official ``UnetBlock_with_z``). The level's LeakyReLU (``down[0]``) acts on that whole
    concatenation; the skip carries ``x`` without z, so the widths of the up-sampling path are
    those of the plain U-Net; the output is ``cat([up, x])``. Call as ``block(x, z)``."""

    def __init__(self, outer_channels: int, inner_channels: int, inner: nn.Module | None = None,
                 *, nz: int = 8, in_channels: int | None = None, **kwargs: Any) -> None:
        in_channels = outer_channels if in_channels is None else in_channels
        kwargs.setdefault("up_first", True)
        kwargs.setdefault("conv_bias", True)
        super().__init__(outer_channels, inner_channels, inner, in_channels=in_channels + nz,
                         **kwargs)
        self.nz = nz

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        xz = torch.cat([x, expand_latent(z, x.shape[2], x.shape[3])], dim=1)  # (N, C+nz, H, W)
        y = self.down(xz)                          # (N, inner, H/2, W/2)
        if self.inner is not None:
            y = self.inner(y, z)
        y = self.up(y)                             # (N, outer, H, W)
        if self.skip and not self.outermost:
            return torch.cat([y, x] if self.up_first else [x, y], dim=1)   # (N, 2*outer, H, W)
        return y


class LatentUNetGenerator(nn.Module):
    """G(A, z): the pix2pix U-Net with a latent code (Zhu et al. 2017, Sec. 3.5, Fig. 3).

    Args:
        in_channels, out_channels: image channels of A and B.
        nz: dimension of z (8 in the paper).
        num_downs: U-Net levels (8 for 256 px, down to 1x1).
        ngf: width of the first level (64).
        norm: ``"instance"`` (BicycleGAN's default), ``"batch"`` or ``"none"``.
        use_dropout: dropout (p = 0.5) in the decoder, placed as in the official code
            (:func:`latent_dropout_levels`). Off by default as in the official ``define_G``;
            the official training scripts all pass ``--use_dropout``, and the course's
            trainers follow them.
        where_add: ``"input"`` -- z is concatenated to A only (a U-Net with
            ``in_channels + nz`` input channels); ``"all"`` -- z is concatenated to the input
            of every encoder level (the paper's "add_to_all", the official default).
        nl: the activation at the start of each up-sampling layer (``--nl``: ``"relu"``, the
            official default, ``"lrelu"`` or ``"elu"``). With ``where_add="input"`` only
            ``"relu"`` is exact: there the official in-place LeakyReLU also rewrites the skip.
        upsample: ``"basic"`` (4x4 transposed convolution, the official default) or
            ``"bilinear"`` (the official option: bilinear up-sampling, reflection padding, 3x3
            convolution; no checkerboard, which a short run on CPU needs).

    ``forward(a, z)`` with ``a`` (N, in_channels, H, W) in [-1, 1] and ``z`` (N, nz) returns
    (N, out_channels, H, W) in [-1, 1]. ``config`` rebuilds it: ``LatentUNetGenerator(**g.config)``.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, nz: int = 8,
                 num_downs: int = 8, ngf: int = 64, norm: str = "instance",
                 use_dropout: bool = False, where_add: str = "all", nl: str = "relu",
                 upsample: str = "basic") -> None:
        super().__init__()
        check_norm(norm)
        if where_add not in WHERE_ADD:
            raise ValueError(f"where_add={where_add!r}: use 'input' (z concatenated to the "
                             f"input only) or 'all' (z concatenated at every encoder level)")
        if upsample not in UPSAMPLE:
            raise ValueError(f"upsample={upsample!r}: use 'basic' (a 4x4 transposed "
                             f"convolution, the official default) or 'bilinear' (bilinear "
                             f"up-sampling, then a 3x3 convolution)")
        if where_add == "input" and nl != "relu":
            raise ValueError(f"nl={nl!r} with where_add='input': the official in-place "
                             f"LeakyReLU makes only nl='relu' reproducible; use where_add='all'")
        make_activation(nl)
        if isinstance(nz, bool) or not isinstance(nz, int) or nz < 1:
            raise ValueError(f"nz={nz!r} must be a positive integer (8 in the paper)")
        self.config: dict[str, Any] = dict(in_channels=in_channels, out_channels=out_channels,
                                           nz=nz, num_downs=num_downs, ngf=ngf, norm=norm,
                                           use_dropout=use_dropout, where_add=where_add)
        if nl != "relu":
            self.config["nl"] = nl
        if upsample != "basic":
            self.config["upsample"] = upsample
        self.in_channels, self.out_channels, self.nz = in_channels, out_channels, nz
        self.num_downs, self.where_add = num_downs, where_add
        if num_downs < 2:
            raise ValueError(f"num_downs={num_downs}: a U-Net needs at least 2 levels")
        widths = [ngf * min(2 ** i, 8) for i in range(num_downs)]
        drop = latent_dropout_levels(num_downs, where_add)
        block: Any = UNetBlock if where_add == "input" else partial(LatentUNetBlock, nz=nz)
        extra = nz if where_add == "input" else 0     # "input": z joins A as extra channels
        level: nn.Module | None = None
        for i in reversed(range(num_downs)):
            outermost = i == 0
            level = block(out_channels if outermost else widths[i - 1], widths[i], level,
                          in_channels=in_channels + extra if outermost else None,
                          outermost=outermost, norm=norm,
                          dropout=use_dropout and drop[num_downs - 1 - i], up_first=True,
                          conv_bias=True, up_activation=nl, upsample=upsample)
        assert level is not None
        self.unet: nn.Module = level
        init_weights(self)

    def forward(self, a: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if a.dim() != 4 or a.shape[1] != self.in_channels:
            raise ValueError(f"LatentUNetGenerator expects inputs (N, {self.in_channels}, H, W), "
                             f"got shape {tuple(a.shape)}")
        if z.dim() != 2 or z.shape != (a.shape[0], self.nz):
            raise ValueError(f"z must be (N, nz) = ({a.shape[0]}, {self.nz}), got shape "
                             f"{tuple(z.shape)}; draw it with torch.randn(N, {self.nz})")
        check_unet_size(a.shape[2], a.shape[3], self.num_downs)
        z = z.to(a.dtype)
        if self.where_add == "input":
            return self.unet(torch.cat([a, expand_latent(z, a.shape[2], a.shape[3])], dim=1))
        return self.unet(a, z)


class BicycleDiscriminator(nn.Module):
    """The official BicycleGAN discriminator (``D_NLayersMulti``): PatchGANs at ``num_D`` scales.

    Scale ``i`` is a :class:`~course_lib.models.PatchDiscriminator` with ``round(ndf / 2**i)``
    filters and ``n_layers`` stride-2 layers, applied to the image average-pooled ``i`` times
    (3x3 window, stride 2, padding excluded from the mean). ``forward`` returns the list of
    logit maps, finest first; the GAN loss is summed over them. Every convolution has a bias,
    whatever the norm (as the official ``get_layers``).

    Args:
        in_channels: 3 for an unconditional D (BicycleGAN's default), 6 for a conditional one.
        ndf: filters of the finest scale (64).
        n_layers: 3 (the 70x70 PatchGAN, ``basic_256_multi``) or 2 (``basic_128_multi``).
        num_D: number of scales (2 in the paper).
        norm: ``"instance"`` (BicycleGAN), ``"batch"`` or ``"none"``.
    """

    def __init__(self, in_channels: int = 3, ndf: int = 64, n_layers: int = 3, num_D: int = 2,
                 norm: str = "instance") -> None:
        super().__init__()
        if isinstance(num_D, bool) or not isinstance(num_D, int) or num_D < 1:
            raise ValueError(f"num_D={num_D!r} must be a positive integer (2 in the paper)")
        self.config: dict[str, Any] = dict(in_channels=in_channels, ndf=ndf, n_layers=n_layers,
                                           num_D=num_D, norm=norm)
        self.in_channels, self.num_D = in_channels, num_D
        self.scales = nn.ModuleList(
            PatchDiscriminator(in_channels, ndf=max(1, round(ndf / 2 ** i)), n_layers=n_layers,
                               norm=norm, conv_bias=True) for i in range(num_D))
        self.down = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"BicycleDiscriminator was built for (N, {self.in_channels}, H, W), "
                             f"got shape {tuple(x.shape)}")
        out = []
        for i, d in enumerate(self.scales):
            out.append(d(x))                       # (N, 1, h_i, w_i)
            if i + 1 < self.num_D:
                x = self.down(x)                   # (N, C, H/2, W/2)
        return out

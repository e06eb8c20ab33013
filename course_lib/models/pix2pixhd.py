"""The networks of pix2pixHD: the coarse-to-fine generator and the multi-scale discriminator.

Wang et al., "High-Resolution Image Synthesis and Semantic Manipulation with Conditional
GANs", CVPR 2018.

* **Global generator G1** (Sec. 3.2, "Coarse-to-fine generator"; architecture of Johnson et
  al. 2016): a 7x7 convolutional front end, ``n_downsampling`` stride-2 3x3 convolutions
  that double the width each time, ``n_blocks`` residual blocks, as many stride-2 3x3
  transposed convolutions back up, and a 7x7 convolution to RGB with Tanh. Instance norm and
  ReLU after every convolution but the last; reflection padding.
* **Local enhancer G2**: its front end (7x7 conv, one stride-2 conv) sees the full-resolution
  input; its output is **added** to the last feature map of G1, which runs on the input
  down-sampled by 2; residual blocks and a transposed convolution then bring the sum to full
  resolution. More enhancers stack (each doubles the resolution again).
* **Multi-scale discriminator** (Sec. 3.2, "Multi-scale discriminators"): ``num_D``
  identical PatchGANs (the 70x70 one of pix2pix) on the image down-sampled by 1, 2, 4, ...;
  each returns its intermediate features for the feature-matching loss (Eq. 4). As in the
  official ``NLayerDiscriminator``, every 4x4 convolution pads by ``ceil(3/2) = 2`` (not 1 as
  pix2pix), so a 128 px input gives maps of 19, 11 and 7 at the three scales (14, 6 and 2 with
  padding 1); the receptive field (70 px per scale) is the same.

Layer configuration and defaults follow the official implementation (NVIDIA/pix2pixHD,
``models/networks.py`` and ``options/*.py``), so that the parameter counts agree exactly:
``ngf=64``, 4 down-samplings and 9 residual blocks in G1, 3 residual blocks in the enhancer,
``ndf=64``, ``n_layers=3``; every convolution carries a bias (instance norm has no learned
shift; the official code keeps them with batch norm too); down-sampling between scales is a
3x3 average pool with stride 2 that ignores the padding. ``LocalEnhancer(ngf=32)`` (the
2048x1024 script) holds a G1 of width 64, as there.
The paper's Cityscapes input is 35 one-hot label channels + 1 boundary channel (+ 3 instance
feature channels for G when the feature encoder is used).

One course choice differs, stated here: the official enhancer discards G1's last
convolution; :class:`LocalEnhancer` keeps G1 whole (its ``head`` is unused by the enhanced
forward pass) so that G1's own half-resolution output stays available for the coarse-to-fine
phases and for comparisons. :meth:`LocalEnhancer.num_parameters` counts what the forward pass
uses, which is the official count (182,857,059 for the published ``label2city_1024p``, 36
input channels). The official ``MultiscaleDiscriminator`` registers its scales coarsest first
(``scale0`` sees the most down-sampled input, the last one the full resolution);
:class:`MultiscaleDiscriminator` keeps them finest first, and
:func:`course_lib.pretrained.load_official` maps the names, so the outputs agree scale by
scale.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from course_lib.models.init import init_weights
from course_lib.models.norm import check_norm, make_norm
from course_lib.models.patchgan import PatchDiscriminator

__all__ = ["ResnetBlock", "GlobalGenerator", "LocalEnhancer", "MultiscaleDiscriminator",
           "downsample", "check_hd_size", "max_num_D"]


def downsample(x: torch.Tensor, times: int = 1) -> torch.Tensor:
    """Halve ``x`` ``times`` times with the 3x3, stride-2 average pool of pix2pixHD.

    Padding 1 is not counted in the averages (``count_include_pad=False``), as in the official
    code's input pyramid and between discriminator scales. ``(N, C, H, W) -> (N, C, ceil(H/2),
    ceil(W/2))`` per halving.
    """
    for _ in range(times):
        x = nn.functional.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
    return x


def check_hd_size(height: int, width: int, factor: int, what: str) -> None:
    """Raise a ``ValueError`` naming the nearest valid sizes unless both sides divide ``factor``."""
    if height % factor == 0 and width % factor == 0 and height > 0 and width > 0:
        return

    def near(s: int) -> str:
        lo = max(factor, s // factor * factor)
        hi = lo + factor if lo < s else lo
        return f"{lo}" if lo == hi else f"{lo} or {hi}"

    raise ValueError(f"{what} needs height and width divisible by {factor}; got {height}x{width} "
                     f"(HxW). Use a height of {near(height)} and a width of {near(width)}, or "
                     f"resize/crop the images")


def max_num_D(height: int, width: int, n_layers: int = 3) -> int:
    """The most discriminator scales the course allows on a ``height x width`` image.

    The course keeps every scale at least ``3 * 2**n_layers`` px on its short side (24 for the
    70x70 D), each further scale halving the image (rounding up). That is where a PatchGAN
    with pix2pix's padding 1 would give an empty map (``floor(s / 2**n_layers) - 2``); with
    pix2pixHD's padding 2 the map is never empty, but below that size it is mostly padding,
    and the 70 px field sees the whole image several times over. A course guard, not an
    official limit.
    """
    need = 3 * 2 ** n_layers
    side, k = min(height, width), 0
    while side >= need:
        k += 1
        side = (side + 1) // 2
    return k


class ResnetBlock(nn.Module):
    """``x + [pad, conv3x3, norm, ReLU, pad, conv3x3, norm](x)`` at constant width.

    The residual block of Johnson et al. (2016) that G1 and G2 use (pix2pixHD Sec. 3.2), with
    reflection padding and no activation after the sum.
    """

    def __init__(self, channels: int, norm: str = "instance") -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), make_norm(norm, channels),
            nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), make_norm(norm, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


def _conv_norm_relu(cin: int, cout: int, kernel: int, stride: int, norm: str,
                    reflect: int = 0) -> list[nn.Module]:
    pad: list[nn.Module] = [nn.ReflectionPad2d(reflect)] if reflect else []
    padding = 0 if reflect else (kernel - 1) // 2
    return pad + [nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding),
                  make_norm(norm, cout), nn.ReLU(True)]


def _up(cin: int, cout: int, norm: str) -> list[nn.Module]:
    """3x3 transposed conv, stride 2: H -> 2H exactly (output_padding 1), norm, ReLU."""
    return [nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1),
            make_norm(norm, cout), nn.ReLU(True)]


def _rgb_head(cin: int, cout: int) -> nn.Sequential:
    """Reflection pad 3, 7x7 conv to the image channels, Tanh."""
    return nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(cin, cout, 7), nn.Tanh())


def _check_input(module: nn.Module, x: torch.Tensor, in_channels: int, factor: int) -> None:
    name = type(module).__name__
    if x.dim() != 4:
        raise ValueError(f"{name} expects a batch (N, C, H, W), got shape {tuple(x.shape)}")
    if x.shape[1] != in_channels:
        raise ValueError(f"{name} was built for in_channels={in_channels} but got "
                         f"{x.shape[1]} channels (shape {tuple(x.shape)}); pix2pixHD's input is "
                         f"the one-hot label map (+1 boundary channel, + the instance features)")
    check_hd_size(int(x.shape[2]), int(x.shape[3]), factor, name)


class GlobalGenerator(nn.Module):
    """G1, the global generator (Sec. 3.2; the official ``GlobalGenerator``).

    Args:
        in_channels: label classes + 1 boundary channel (+ instance feature channels).
        out_channels: image channels (3).
        ngf: width of the front end (64 in the paper); the bottleneck has
            ``ngf * 2**n_downsampling`` channels.
        n_downsampling: stride-2 convolutions (4 in the official defaults).
        n_blocks: residual blocks at the bottleneck (9).
        norm: ``"instance"`` (the paper), ``"batch"`` or ``"none"``.

    ``(N, in_channels, H, W) -> (N, out_channels, H, W)`` in [-1, 1]; ``H`` and ``W`` must be
    divisible by ``2**n_downsampling``. :meth:`features` returns the last feature map
    ``(N, ngf, H, W)`` before the RGB head, the one the local enhancer adds its own to.
    Set ``gradient_checkpointing = True`` to recompute the residual blocks in the backward pass
    instead of storing their activations (less memory, about a third more compute in G1).
    """

    def __init__(self, in_channels: int, out_channels: int = 3, ngf: int = 64,
                 n_downsampling: int = 4, n_blocks: int = 9, norm: str = "instance") -> None:
        super().__init__()
        check_norm(norm)
        for name, v, low in (("in_channels", in_channels, 1), ("out_channels", out_channels, 1),
                             ("ngf", ngf, 1), ("n_downsampling", n_downsampling, 0),
                             ("n_blocks", n_blocks, 0)):
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"{name} must be an int >= {low}, got {v!r}")
        self.config: dict[str, Any] = dict(in_channels=in_channels, out_channels=out_channels,
                                           ngf=ngf, n_downsampling=n_downsampling,
                                           n_blocks=n_blocks, norm=norm)
        self.in_channels, self.ngf, self.n_downsampling = in_channels, ngf, n_downsampling
        self.gradient_checkpointing = False
        self.front = nn.Sequential(*_conv_norm_relu(in_channels, ngf, 7, 1, norm, reflect=3))
        down: list[nn.Module] = []
        for i in range(n_downsampling):                       # (N, ngf 2^(i+1), H/2^(i+1), .)
            down += _conv_norm_relu(ngf * 2 ** i, ngf * 2 ** (i + 1), 3, 2, norm)
        self.down = nn.Sequential(*down)
        width = ngf * 2 ** n_downsampling
        self.blocks = nn.Sequential(*[ResnetBlock(width, norm) for _ in range(n_blocks)])
        up: list[nn.Module] = []
        for i in range(n_downsampling, 0, -1):                # (N, ngf 2^(i-1), H/2^(i-1), .)
            up += _up(ngf * 2 ** i, ngf * 2 ** (i - 1), norm)
        self.up = nn.Sequential(*up)
        self.head = _rgb_head(ngf, out_channels)
        init_weights(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map before the RGB head, ``(N, ngf, H, W)``."""
        _check_input(self, x, self.in_channels, 2 ** self.n_downsampling)
        x = self.down(self.front(x))
        if self.gradient_checkpointing and torch.is_grad_enabled():
            for block in self.blocks:
                x = checkpoint(block, x, use_reentrant=False)
        else:
            x = self.blocks(x)
        return self.up(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class _Enhancer(nn.Module):
    """One local enhancer branch: ``front`` (full resolution -> H/2, width 2w) and ``back``
    (residual blocks at H/2, transposed conv to H, width w)."""

    def __init__(self, in_channels: int, width: int, n_blocks: int, norm: str) -> None:
        super().__init__()
        self.front = nn.Sequential(*_conv_norm_relu(in_channels, width, 7, 1, norm, reflect=3),
                                   *_conv_norm_relu(width, 2 * width, 3, 2, norm))
        self.back = nn.Sequential(*[ResnetBlock(2 * width, norm) for _ in range(n_blocks)],
                                  *_up(2 * width, width, norm))


class LocalEnhancer(nn.Module):
    """G = {G1, G2}: the global generator wrapped by ``n_local_enhancers`` local enhancers.

    Args:
        in_channels, out_channels, norm: as :class:`GlobalGenerator`.
        ngf: width of the outermost enhancer (32 in the official 2048x1024 script); G1 gets
            ``ngf * 2**n_local_enhancers`` (64 there).
        n_downsample_global, n_blocks_global: G1's down-samplings (4) and residual blocks (9).
        n_local_enhancers: how many enhancers (1: G1 at H/2, output at H).
        n_blocks_local: residual blocks per enhancer (3).
        global_generator: a trained G1 to wrap (for example from the coarse phase); it must
            have the width and input channels above. Default: a new one.

    Forward (Sec. 3.2): the input pyramid is built with :func:`downsample`; G1 runs on the
    coarsest level and yields its last feature map; each enhancer adds its front end's output
    on the next finer level to that map and runs its back end; the outermost one ends with the
    RGB head. ``(N, in_channels, H, W) -> (N, out_channels, H, W)``, with ``H`` and ``W``
    divisible by ``2**(n_downsample_global + n_local_enhancers)``.
    """

    def __init__(self, in_channels: int, out_channels: int = 3, ngf: int = 32,
                 n_downsample_global: int = 4, n_blocks_global: int = 9,
                 n_local_enhancers: int = 1, n_blocks_local: int = 3, norm: str = "instance",
                 global_generator: GlobalGenerator | None = None) -> None:
        super().__init__()
        check_norm(norm)
        for name, v, low in (("ngf", ngf, 1), ("n_local_enhancers", n_local_enhancers, 1),
                             ("n_blocks_local", n_blocks_local, 0)):
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"{name} must be an int >= {low}, got {v!r}")
        self.config: dict[str, Any] = dict(
            in_channels=in_channels, out_channels=out_channels, ngf=ngf,
            n_downsample_global=n_downsample_global, n_blocks_global=n_blocks_global,
            n_local_enhancers=n_local_enhancers, n_blocks_local=n_blocks_local, norm=norm)
        self.in_channels, self.n_local_enhancers = in_channels, n_local_enhancers
        global_ngf = ngf * 2 ** n_local_enhancers
        if global_generator is None:
            global_generator = GlobalGenerator(in_channels, out_channels, global_ngf,
                                               n_downsample_global, n_blocks_global, norm)
        else:
            want = dict(in_channels=in_channels, out_channels=out_channels, ngf=global_ngf,
                        n_downsampling=n_downsample_global, n_blocks=n_blocks_global, norm=norm)
            got = {k: global_generator.config.get(k) for k in want}
            if got != want:
                raise ValueError(f"the given global generator has {got} but this enhancer "
                                 f"needs {want} (G1's width is ngf * 2**n_local_enhancers)")
        self.global_generator = global_generator
        # Enhancer n = 1 (innermost, next to G1) ... N (outermost, full resolution).
        self.enhancers = nn.ModuleList([
            _Enhancer(in_channels, ngf * 2 ** (n_local_enhancers - n), n_blocks_local, norm)
            for n in range(1, n_local_enhancers + 1)])
        self.head = _rgb_head(ngf, out_channels)
        for module in (self.enhancers, self.head):
            init_weights(module)

    @property
    def factor(self) -> int:
        """Sides must be divisible by this: ``2**(n_downsample_global + n_local_enhancers)``."""
        return 2 ** (self.global_generator.n_downsampling + self.n_local_enhancers)

    def pyramid(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``[x, x/2, ..., x/2**N]``: the inputs of the enhancers and, last, of G1."""
        levels = [x]
        for _ in range(self.n_local_enhancers):
            levels.append(downsample(levels[-1]))
        return levels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(self, x, self.in_channels, self.factor)
        levels = self.pyramid(x)
        feat = self.global_generator.features(levels[-1])         # (N, 2^N ngf, H/2^N, .)
        for n, enhancer in enumerate(self.enhancers, start=1):
            level = levels[self.n_local_enhancers - n]
            feat = enhancer.back(enhancer.front(level) + feat)    # (N, 2^(N-n) ngf, ., .)
        return self.head(feat)

    def coarse(self, x: torch.Tensor) -> torch.Tensor:
        """G1's own output on the coarsest level of ``x``: ``(N, C, H/2**N, W/2**N)``."""
        _check_input(self, x, self.in_channels, self.factor)
        return self.global_generator(self.pyramid(x)[-1])

    def enhancer_parameters(self) -> list[nn.Parameter]:
        """The parameters of G2 (enhancers and final head): what the fixed-G1 phase trains."""
        return list(self.enhancers.parameters()) + list(self.head.parameters())

    def num_parameters(self) -> int:
        """Parameters used by the forward pass (G1 without its RGB head, plus G2): the count
        of the official ``LocalEnhancer``."""
        unused = {id(p) for p in self.global_generator.head.parameters()}
        return sum(p.numel() for p in self.parameters() if id(p) not in unused)


class MultiscaleDiscriminator(nn.Module):
    """``num_D`` PatchGANs on the input down-sampled by 1, 2, 4, ... (Sec. 3.2).

    Args:
        in_channels: channels of the (label map, image) pair, e.g. 35 + 1 + 3 = 39 for
            Cityscapes labels with the boundary map and an RGB image.
        ndf: width of each D's first layer (64).
        n_layers: stride-2 layers of each D (3: the 70x70 PatchGAN).
        num_D: number of scales (3 in the paper; the official code's default is 2, which its
            1024x512 script uses).
        norm: ``"instance"`` (the paper), ``"batch"`` or ``"none"``.
        padding: of every 4x4 convolution: 2 (official, ``ceil((4 - 1) / 2)``) or 1 (pix2pix).

    ``forward(x)`` returns a list with one map of logits per scale, finest first;
    ``forward(x, return_features=True)`` a list per scale of every stage's output (the last
    being the logits), for the feature-matching loss. The coarsest scale must be at least
    ``3 * 2**n_layers`` pixels on its short side (see :func:`max_num_D`).
    """

    def __init__(self, in_channels: int, ndf: int = 64, n_layers: int = 3, num_D: int = 3,
                 norm: str = "instance", padding: int = 2) -> None:
        super().__init__()
        if isinstance(num_D, bool) or not isinstance(num_D, int) or num_D < 1:
            raise ValueError(f"num_D must be an int >= 1, got {num_D!r}")
        self.config: dict[str, Any] = dict(in_channels=in_channels, ndf=ndf, n_layers=n_layers,
                                           num_D=num_D, norm=norm)
        if padding != 2:
            self.config["padding"] = padding
        self.in_channels, self.n_layers, self.num_D = in_channels, n_layers, num_D
        self.discriminators = nn.ModuleList([
            PatchDiscriminator(in_channels, ndf, n_layers, norm, padding=padding, conv_bias=True,
                               max_channels=512) for _ in range(num_D)])

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 4:
            raise ValueError(f"MultiscaleDiscriminator expects (N, C, H, W), got "
                             f"{tuple(x.shape)}")
        h, w = int(x.shape[2]), int(x.shape[3])
        fits = max_num_D(h, w, self.n_layers)
        if fits < self.num_D:
            raise ValueError(
                f"a {h}x{w} input is too small for num_D={self.num_D} scales with "
                f"n_layers={self.n_layers}: the coarsest scale would be under "
                f"{3 * 2 ** self.n_layers} px and give an empty map. Use num_D <= {fits} "
                f"(max_num_D({h}, {w}, {self.n_layers})) or larger images")

    def forward(self, x: torch.Tensor, return_features: bool = False
                ) -> list[torch.Tensor] | list[list[torch.Tensor]]:
        self._check(x)
        out: list[Any] = []
        for k, d in enumerate(self.discriminators):
            if k:
                x = downsample(x)                                   # (N, C, H/2^k, W/2^k)
            out.append(d(x, return_features=True) if return_features else d(x))
        return out

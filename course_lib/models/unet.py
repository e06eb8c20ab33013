"""The U-Net generator of pix2pix and its encoder-decoder baseline.

Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks", CVPR 2017:
Sec. 3.2.1 (generator with skips) and Appendix 6.1.1 (architecture). ``Ck`` is a
Convolution-BatchNorm-ReLU layer with k filters, ``CDk`` the same with 50 % dropout; all
convolutions are 4x4 with stride 2::

    encoder:  C64-C128-C256-C512-C512-C512-C512-C512          (no BatchNorm on C64)
    decoder:  CD512-CD1024-CD1024-C1024-C1024-C512-C256-C128  (widths after concatenation)
    then a convolution to the output channels and a Tanh.

Encoder ReLUs are leaky (slope 0.2), decoder ReLUs are not. The U-Net concatenates the
activations of encoder layer i with those of decoder layer n - i; ``skip=False`` removes these
connections and gives the paper's encoder-decoder baseline (Sec. 4.3, Fig. 5, Table 2).

The network is built recursively from :class:`UNetBlock`: one block is one resolution level
(a down-sampling layer, the deeper levels, an up-sampling layer, and the skip around them).

Choices where the paper is silent or differs from the official code, stated once here:

* The network computes what the official PyTorch implementation (``unet_128``, ``unet_256``)
  computes, and the parameter counts agree exactly: with batch norm, no convolution has a
  bias except the last one (batch norm's own shift makes it redundant; the official code drops
  it even on the first layer, which has no norm), and the innermost (1x1) encoder layer has
  no norm (batch norm over a single value per channel is undefined at batch size 1).
* **Where the activations sit.** The paper writes Conv-Norm-ReLU; the official code puts each
  activation at the *start* of a level instead: LeakyReLU(0.2) before every down-sampling
  convolution but the outermost, and ReLU before every up-sampling convolution, applied to
  the whole concatenation ``[skip, deeper output]``. So the decoder reads ReLU of the encoder
  features through a skip (the official in-place LeakyReLU makes no difference there: ReLU
  of LeakyReLU is ReLU), and the innermost 1x1 code goes through ReLU, not LeakyReLU.
  :class:`UNetBlock` is built that way: ``down = [LeakyReLU], Conv, [Norm]`` and
  ``up = ReLU, ConvTranspose, Norm | Tanh, [Dropout]``.
* **Dropout** (``use_dropout``). ``dropout_layout="official"`` (the default, what the authors'
  code and their published models use): 50 % dropout after the norm of the 2nd to 4th decoder
  layers counted from the innermost (the ``ngf * 8`` levels between the innermost one and the
  ``ngf * 4`` one), so none at all when ``num_downs <= 5``. ``dropout_layout="paper"``: the
  paper's CD512-CD1024-CD1024 reading, dropout in the first three decoder layers. Dropout has
  no parameters; the counts are the same.
* ``up_first`` and ``conv_bias`` exist for BicycleGAN's variant of the block
  (:mod:`course_lib.models.bicyclegan`): it concatenates ``[up, x]`` and keeps every bias.

**Test time.** The paper (Sec. 3.3) runs the generator at test time "in exactly the same
manner as during the training phase": dropout stays on and batch norm uses the statistics of
the test batch. ``model.eval()`` does neither. :func:`set_test_mode` and the
:func:`at_test_time` context manager make the choice explicit: ``"paper"`` or ``"eval"``.
"""
from __future__ import annotations

import copy
from contextlib import contextmanager
from typing import Any, Iterator, Literal

import torch
from torch import nn

from course_lib.models.init import init_weights
from course_lib.models.norm import check_norm, make_norm
from course_lib.models.norm import conv_bias as _conv_bias

__all__ = ["UNetBlock", "UNetGenerator", "check_unet_size", "valid_unet_sizes",
           "EvalMode", "set_test_mode", "at_test_time", "dropout_levels", "make_activation",
           "upsampling_layers", "UPSAMPLE"]

EvalMode = Literal["paper", "eval"]


class UNetBlock(nn.Module):
    """One resolution level of the U-Net, wrapped around the deeper levels.

    ::

        x ─┬─────────────────────── skip ────────────────────────┐
           └─> down ─> inner (deeper levels, if any) ─> up ─> concat(x, up) ─>

    * ``down``: LeakyReLU(0.2) (not on the outermost level, whose input is the image), then a
      4x4 conv, stride 2, ``in_channels -> inner_channels`` (H -> H/2), then the norm (not on
      the outermost or innermost level).
    * ``inner``: the next :class:`UNetBlock`, or nothing on the innermost level.
    * ``up``: ReLU on what comes up (the deeper level's concatenation, or the innermost code),
      then a 4x4 transposed conv, stride 2, ``-> outer_channels`` (H/2 -> H), then the norm and
      optional Dropout(0.5); on the outermost level the ReLU, the conv and Tanh.
    * the skip: the block returns ``cat([x, up], dim=1)`` (``2 * outer_channels`` channels),
      except on the outermost level or when ``skip=False``. ``x`` enters unactivated; the
      parent's ``up`` applies its ReLU to it, as in the official code.

    The up-sampling conv therefore sees ``2 * inner_channels`` channels when there is a deeper
    level that concatenates, and ``inner_channels`` otherwise.

    Args:
        outer_channels: channels this level outputs (before the concatenation); on the
            outermost level, the image channels of the output.
        inner_channels: channels of the down-sampled features.
        inner: the deeper levels (a ``UNetBlock``), or ``None`` for the innermost level.
        in_channels: channels of ``x``; defaults to ``outer_channels`` (true for every level
            but the outermost, whose input is the image).
        outermost: this level maps the image to the image (no skip, Tanh output).
        norm: ``"batch"``, ``"instance"`` or ``"none"``.
        dropout: 50 % dropout after the up-sampling norm.
        skip: concatenate ``x`` with the output (the U-Net) or not (encoder-decoder).
        up_first: concatenate ``[up, x]`` instead of ``[x, up]`` (BicycleGAN's ``UnetBlock``).
        conv_bias: give every convolution a bias; ``None`` (default): only where no batch norm
            follows (:func:`~course_lib.models.norm.conv_bias`), as pix2pix does.
        up_activation: the activation at the start of ``up``: ``"relu"`` (pix2pix),
            ``"lrelu"`` or ``"elu"`` (BicycleGAN's ``--nl``).
        upsample: ``"basic"``: the 4x4 transposed convolution above; ``"bilinear"``:
            bilinear up-sampling by 2, reflection padding of 1 and a 3x3 convolution
            (BicycleGAN's ``--upsample bilinear``), which cannot paint the checkerboard that
            overlapping transposed-convolution strides leave early in training.
    """

    def __init__(self, outer_channels: int, inner_channels: int, inner: nn.Module | None = None,
                 *, in_channels: int | None = None, outermost: bool = False, norm: str = "batch",
                 dropout: bool = False, skip: bool = True, up_first: bool = False,
                 conv_bias: bool | None = None, up_activation: str = "relu",
                 upsample: str = "basic") -> None:
        super().__init__()
        check_norm(norm)
        in_channels = outer_channels if in_channels is None else in_channels
        innermost = inner is None
        self.outermost, self.skip, self.up_first = outermost, skip, up_first
        bias = _conv_bias(norm) if conv_bias is None else conv_bias

        down: list[nn.Module] = [] if outermost else [nn.LeakyReLU(0.2)]
        down.append(nn.Conv2d(in_channels, inner_channels, 4, stride=2, padding=1, bias=bias))
        if not (outermost or innermost):
            down.append(make_norm(norm, inner_channels))
        self.down = nn.Sequential(*down)
        self.inner = inner

        # A deeper U-Net level returns cat(its input, its output): twice its input's channels.
        up_in = inner_channels if (innermost or not skip) else 2 * inner_channels
        up: list[nn.Module] = [make_activation(up_activation)]
        up += upsampling_layers(up_in, outer_channels, upsample, bias=True if outermost else bias)
        if outermost:
            up.append(nn.Tanh())
        else:
            up.append(make_norm(norm, outer_channels))
            if dropout:
                up.append(nn.Dropout(0.5))
        self.up = nn.Sequential(*up)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.down(x)                           # (N, inner, H/2, W/2)
        if self.inner is not None:
            y = self.inner(y)                      # (N, 2*inner or inner, H/2, W/2)
        y = self.up(y)                             # (N, outer, H, W)
        if self.skip and not self.outermost:
            return torch.cat([y, x] if self.up_first else [x, y], dim=1)   # (N, 2*outer, H, W)
        return y


UPSAMPLE = ("basic", "bilinear")


def upsampling_layers(in_channels: int, out_channels: int, upsample: str = "basic",
                      bias: bool = True) -> list[nn.Module]:
    """The layers that double a decoder level's resolution.

    ``"basic"`` (pix2pix, and BicycleGAN's default): a 4x4 transposed convolution, stride 2,
    padding 1. ``"bilinear"`` (BicycleGAN's ``--upsample bilinear`` option): bilinear
    up-sampling by 2, then reflection padding of 1 and a 3x3 convolution.
    """
    if upsample == "basic":
        return [nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1, bias=bias)]
    if upsample == "bilinear":
        return [nn.Upsample(scale_factor=2, mode="bilinear"), nn.ReflectionPad2d(1),
                nn.Conv2d(in_channels, out_channels, 3, stride=1, padding=0, bias=bias)]
    raise ValueError(f"upsample={upsample!r}: use one of {', '.join(map(repr, UPSAMPLE))}")


def make_activation(name: str) -> nn.Module:
    """``"relu"``, ``"lrelu"`` (slope 0.2) or ``"elu"``: the ``--nl`` choices of BicycleGAN."""
    if name == "relu":
        return nn.ReLU()
    if name == "lrelu":
        return nn.LeakyReLU(0.2)
    if name == "elu":
        return nn.ELU()
    raise ValueError(f"activation {name!r} is not known: use 'relu', 'lrelu' or 'elu'")


DropoutLayout = Literal["official", "paper"]


def dropout_levels(num_downs: int, layout: str = "official") -> list[bool]:
    """Which decoder layers get dropout, innermost first (``num_downs`` entries).

    ``"official"``: the 2nd to ``(num_downs - 4)``-th (the ``ngf * 8`` levels between the
    innermost and the ``ngf * 4`` one; none for ``num_downs <= 5``), as the authors' code.
    ``"paper"``: the first three (CD512-CD1024-CD1024, Appendix 6.1.1); never the last.
    """
    if layout == "official":
        return [1 <= d <= num_downs - 5 for d in range(num_downs)]
    if layout == "paper":
        return [d < 3 and d < num_downs - 1 for d in range(num_downs)]
    raise ValueError(f"dropout_layout={layout!r}: use 'official' (the authors' code, 2nd-4th "
                     f"decoder layers) or 'paper' (CD512-CD1024-CD1024, the first three)")


def valid_unet_sizes(size: int, num_downs: int) -> list[int]:
    """The valid sides nearest to ``size`` (one below, one above) for ``num_downs`` levels."""
    m = 2 ** num_downs
    below = (size // m) * m
    return [s for s in (below, below + m) if s >= m] if below != size else [size]


def check_unet_size(height: int, width: int, num_downs: int) -> None:
    """Raise a ``ValueError`` unless both sides are positive multiples of ``2**num_downs``.

    The message names the size, the nearest valid sizes and what to do (resize, crop or pad,
    or use fewer levels); without this check a bad size fails deep in a skip concatenation.
    """
    m = 2 ** num_downs
    bad = [(name, s) for name, s in (("height", height), ("width", width)) if s % m or s < m]
    if not bad:
        return
    hints = "; ".join(f"{name} {s} -> {' or '.join(map(str, valid_unet_sizes(s, num_downs)))}"
                      for name, s in bad)
    raise ValueError(
        f"UNetGenerator(num_downs={num_downs}) needs a height and width that are multiples of "
        f"2**{num_downs} = {m}, but the input is {height}x{width} (HxW). Nearest valid sizes: "
        f"{hints}. Resize the images to a valid size (e.g. torchvision.transforms.v2.Resize"
        f"(({valid_unet_sizes(height, num_downs)[0]}, {valid_unet_sizes(width, num_downs)[0]})))"
        f", crop or pad them, or build the U-Net with fewer num_downs "
        f"(num_downs=n needs multiples of 2**n).")


class UNetGenerator(nn.Module):
    """The pix2pix generator: a U-Net with ``num_downs`` resolution levels (Appendix 6.1.1).

    Encoder widths are ``ngf * min(2**i, 8)`` for level i = 0 .. num_downs-1 (C64-C128-C256-
    C512-C512-... for ngf=64); the innermost feature map is ``H / 2**num_downs`` (1x1 for 256 px
    and num_downs=8). The decoder mirrors it; with ``skip=True`` each decoder layer also sees the
    encoder features of the same resolution.

    Args:
        in_channels: channels of the input image (3 for RGB, or the number of label channels).
        out_channels: channels of the output image, in [-1, 1] (Tanh).
        num_downs: number of stride-2 levels; inputs need sides divisible by ``2**num_downs``
            (8 for 256 px, 7 for 128 px, 6 for 64 px, 5 for 32 px).
        ngf: width of the first layer (64 in the paper).
        norm: ``"batch"`` (the paper), ``"instance"`` or ``"none"``.
        use_dropout: 50 % dropout in the decoder (the paper's noise z); where: see
            ``dropout_layout``.
        dropout_layout: ``"official"`` (default; the authors' code and published models: the
            2nd-4th decoder layers, none for ``num_downs <= 5``) or ``"paper"`` (the first
            three, the paper's CD512-CD1024-CD1024); see :func:`dropout_levels`.
        skip: the U-Net (True) or the paper's encoder-decoder baseline (False).
        block: the class of one level; a drop-in replacement must accept the
            :class:`UNetBlock` constructor arguments (used by the notebook exercise).

    Weights are initialized from N(0, 0.02) (:func:`~course_lib.models.init.init_weights`).
    ``config`` holds the constructor arguments, so ``UNetGenerator(**g.config)`` rebuilds it.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, num_downs: int = 8,
                 ngf: int = 64, norm: str = "batch", use_dropout: bool = True, skip: bool = True,
                 block: type[nn.Module] = UNetBlock, dropout_layout: str = "official") -> None:
        super().__init__()
        check_norm(norm)
        if num_downs < 2:
            raise ValueError(f"num_downs={num_downs}: a U-Net needs at least 2 levels "
                             f"(the paper uses 8 for 256x256 images)")
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                            ("ngf", ngf)):
            if value < 1:
                raise ValueError(f"{name}={value} must be a positive integer")
        self.config: dict[str, Any] = dict(in_channels=in_channels, out_channels=out_channels,
                                           num_downs=num_downs, ngf=ngf, norm=norm,
                                           use_dropout=use_dropout, skip=skip,
                                           dropout_layout=dropout_layout)
        drop = dropout_levels(num_downs, dropout_layout)
        self.in_channels, self.out_channels, self.num_downs = in_channels, out_channels, num_downs
        widths = [ngf * min(2 ** i, 8) for i in range(num_downs)]   # encoder outputs per level

        level: nn.Module | None = None
        for i in reversed(range(num_downs)):          # build from the innermost level outwards
            outermost = i == 0
            depth = num_downs - 1 - i                 # 0 = innermost = first decoder layer
            level = block(out_channels if outermost else widths[i - 1], widths[i], level,
                          in_channels=in_channels if outermost else None, outermost=outermost,
                          norm=norm, dropout=use_dropout and drop[depth], skip=skip)
        assert level is not None
        self.model = level
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, in_channels, H, W)`` in [-1, 1] -> ``(N, out_channels, H, W)`` in [-1, 1]."""
        if x.dim() != 4:
            raise ValueError(f"UNetGenerator expects a batch (N, C, H, W), got shape "
                             f"{tuple(x.shape)}; add a batch dimension with x.unsqueeze(0)")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"UNetGenerator was built for in_channels={self.in_channels} but the "
                             f"input has {x.shape[1]} channels (shape {tuple(x.shape)})")
        check_unet_size(x.shape[2], x.shape[3], self.num_downs)
        return self.model(x)


def _check_mode(mode: str) -> None:
    if mode not in ("paper", "eval"):
        raise ValueError(f"mode={mode!r}: use 'paper' (dropout on, batch statistics of the test "
                         f"batch, as Isola et al. Sec. 3.3) or 'eval' (model.eval())")


def set_test_mode(model: nn.Module, mode: EvalMode) -> nn.Module:
    """Put ``model`` in one of the two test-time behaviours and return it.

    * ``"paper"`` -- what pix2pix did (Sec. 3.3): the network runs exactly as in training,
      dropout on and batch norm normalizing with the statistics of the test batch
      (``model.train()``). Outputs are stochastic and depend on the batch; with batch size 1,
      batch norm acts as instance norm. Note that batch norm then also updates its running
      averages on every forward pass (harmless for this mode, which never reads them); use
      :func:`at_test_time` to leave them untouched.
    * ``"eval"`` -- the usual PyTorch protocol (``model.eval()``): dropout off, batch norm uses
      the running averages gathered in training. Deterministic, but not what the paper reported.

    Call ``model.train()`` before training again.
    """
    _check_mode(mode)
    return model.train() if mode == "paper" else model.eval()


@contextmanager
def at_test_time(model: nn.Module, mode: EvalMode) -> Iterator[nn.Module]:
    """Context manager: :func:`set_test_mode` inside, everything restored on exit.

    Restores each sub-module's train/eval flag and the batch-norm running statistics, so a
    ``"paper"``-mode evaluation in the middle of training changes nothing. It does not turn off
    gradients; combine it with ``torch.no_grad()``::

        with torch.no_grad(), at_test_time(G, "paper"):
            fake = G(real_a)
    """
    _check_mode(mode)
    flags = {name: m.training for name, m in model.named_modules()}
    buffers = {name: copy.deepcopy(b) for name, b in model.named_buffers()}
    try:
        yield set_test_mode(model, mode)
    finally:
        for name, m in model.named_modules():
            m.training = flags[name]
        with torch.no_grad():
            for name, b in model.named_buffers():
                b.copy_(buffers[name])

"""Receptive fields: how many input pixels one output unit of a network sees.

pix2pix's PatchGAN (Isola et al., CVPR 2017, Sec. 3.2.2 and 4.4) is defined by the size N of
the patch each discriminator output judges: N is the receptive field of one output unit.
Two ways to get it, which must agree:

* **Analytic** (:func:`receptive_field`). Walking a sequential stack from the input, each layer
  with kernel k, dilation d and stride s updates the field r and the jump j (the distance, in
  input pixels, between neighbouring units)::

      r <- r + (d * (k - 1)) * j        j <- j * s        (starting from r = 1, j = 1)

  Norms, activations, dropout and padding layers change neither.
* **Empirical** (:func:`empirical_receptive_field`). Back-propagate from one output unit to the
  input and measure the region where the gradient is non-zero.

:func:`plot_receptive_field` overlays a field on an image.
"""
from __future__ import annotations

import copy
import warnings
from typing import Any, Iterable, Iterator, NamedTuple, Sequence

import torch
from torch import nn

__all__ = ["ReceptiveField", "EmpiricalField", "receptive_field", "field_of_layers",
           "empirical_receptive_field", "plot_receptive_field"]

# Layers that act on each position (or each channel) without looking at neighbours.
_POINTWISE = (
    nn.BatchNorm1d, nn.BatchNorm2d, nn.SyncBatchNorm, nn.InstanceNorm2d, nn.GroupNorm,
    nn.LayerNorm, nn.LocalResponseNorm,
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
    nn.Mish, nn.Tanh, nn.Sigmoid, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus,
    nn.Dropout, nn.Dropout2d, nn.AlphaDropout, nn.Identity,
)
# Padding changes where the field lies, not its size or the jump.
_PADDING = (nn.ZeroPad2d, nn.ConstantPad2d, nn.ReflectionPad2d, nn.ReplicationPad2d)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.SyncBatchNorm, nn.InstanceNorm2d, nn.GroupNorm,
          nn.LayerNorm, nn.LocalResponseNorm)


class ReceptiveField(NamedTuple):
    """Analytic receptive field: ``size`` (side, in input pixels) and ``stride`` (jump between
    neighbouring output units, in input pixels)."""

    size: int
    stride: int


class EmpiricalField(NamedTuple):
    """Where one output unit's input gradient is non-zero.

    Attributes:
        height, width: sides of the bounding box of the non-zero gradient.
        top, left: its first row and column in the input.
        clipped: the box touches the input border, so the true field may be larger (use a
            larger input) -- or, for a whole-image discriminator, covers the whole input.
    """

    height: int
    width: int
    top: int
    left: int
    clipped: bool

    @property
    def size(self) -> int:
        """The side of a square field (``ValueError`` if height and width differ)."""
        if self.height != self.width:
            raise ValueError(f"the field is {self.height}x{self.width}, not square: "
                             f"use .height and .width")
        return self.height


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(v, int):
        return v, v
    a, b = v
    return int(a), int(b)


def _leaves(obj: nn.Module | Iterable[nn.Module]) -> Iterator[nn.Module]:
    """Leaf modules in registration order (the execution order of a sequential stack)."""
    if isinstance(obj, nn.Module):
        children = list(obj.children())
        if not children:
            yield obj
        for child in children:
            yield from _leaves(child)
    else:
        for item in obj:
            if not isinstance(item, nn.Module):
                raise TypeError(f"receptive_field got {type(item).__name__} in its list of "
                                f"layers; pass nn.Module objects")
            yield from _leaves(item)


def _geometry(m: nn.Module) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]] | None:
    """(kernel, stride, dilation) per axis of a spatial layer; None for a pointwise one."""
    if isinstance(m, nn.Conv2d):
        return _pair(m.kernel_size), _pair(m.stride), _pair(m.dilation)
    if isinstance(m, nn.MaxPool2d):
        return _pair(m.kernel_size), _pair(m.stride), _pair(m.dilation)
    if isinstance(m, nn.AvgPool2d):
        return _pair(m.kernel_size), _pair(m.stride), (1, 1)
    if isinstance(m, _POINTWISE + _PADDING):
        return None
    raise TypeError(
        f"receptive_field cannot handle {type(m).__name__} ({m}): it supports sequential stacks "
        f"of Conv2d, MaxPool2d, AvgPool2d, norms, activations, dropout and padding. For other "
        f"networks (transposed convolutions, up-sampling, adaptive pooling, skips) use "
        f"empirical_receptive_field.")


def receptive_field(model_or_layers: nn.Module | Iterable[nn.Module],
                    dim: int | None = None) -> ReceptiveField:
    """Analytic receptive field and stride of a sequential stack of layers.

    The leaf modules are taken in registration order, which is the order they run in for
    ``nn.Sequential`` stacks and for the course's discriminators. Networks whose ``forward``
    is not sequential (U-Net skips, ResNet blocks) need :func:`empirical_receptive_field`.

    Args:
        model_or_layers: a module, or an iterable of modules.
        dim: ``None`` for square fields (raises if height and width differ), 0 for the height
            axis, 1 for the width axis.

    Returns:
        ``ReceptiveField(size, stride)``, e.g. ``(70, 8)`` for the 70x70 PatchGAN.
    """
    if dim not in (None, 0, 1):
        raise ValueError(f"dim={dim!r}: use None, 0 (height) or 1 (width)")
    size, jump = [1, 1], [1, 1]
    for m in _leaves(model_or_layers):
        geometry = _geometry(m)
        if geometry is None:
            continue
        kernel, stride, dilation = geometry
        for a in (0, 1):
            size[a] += dilation[a] * (kernel[a] - 1) * jump[a]
            jump[a] *= stride[a]
    if dim is None:
        if size[0] != size[1] or jump[0] != jump[1]:
            raise ValueError(f"the field is {size[0]}x{size[1]} with strides {jump[0]}x{jump[1]}"
                             f": not square; pass dim=0 (height) or dim=1 (width)")
        return ReceptiveField(size[0], jump[0])
    return ReceptiveField(size[dim], jump[dim])


def field_of_layers(layers: Sequence[Sequence[int]]) -> ReceptiveField:
    """The recurrence of :func:`receptive_field` on plain numbers, for one axis.

    Args:
        layers: ``(kernel, stride)`` or ``(kernel, stride, dilation)`` per layer, input first
            (pointwise layers such as norms and activations can be left out: they add nothing).

    Returns:
        ``ReceptiveField(size, stride)``; ``field_of_layers([])`` is ``(1, 1)``.

    Example: the 70x70 PatchGAN is three stride-2 and two stride-1 4x4 convolutions,
    ``field_of_layers([(4, 2)] * 3 + [(4, 1)] * 2) == ReceptiveField(70, 8)``.
    """
    size, jump = 1, 1
    for i, layer in enumerate(layers):
        values = tuple(layer)
        if len(values) not in (2, 3) or any(isinstance(v, bool) or not isinstance(v, int)
                                            or v < 1 for v in values):
            raise ValueError(f"layer {i} is {layer!r}: give (kernel, stride) or "
                             f"(kernel, stride, dilation) as positive ints")
        kernel, stride = values[:2]
        dilation = values[2] if len(values) == 3 else 1
        size += dilation * (kernel - 1) * jump
        jump *= stride
    return ReceptiveField(size, jump)


def _replace_children(module: nn.Module) -> None:
    """Replace norms by identities and max pools by average pools, recursively, in place."""
    for name, child in list(module.named_children()):
        if isinstance(child, _NORMS):
            setattr(module, name, nn.Identity())
        elif isinstance(child, nn.MaxPool2d):
            if _pair(child.dilation) != (1, 1):
                raise TypeError(f"empirical_receptive_field cannot probe a dilated MaxPool2d "
                                f"({child}); use receptive_field")
            setattr(module, name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding,
                                               ceil_mode=child.ceil_mode))
        else:
            _replace_children(child)


def _positive_probe(model: nn.Module) -> nn.Module:
    """A float64 copy of ``model`` in which no gradient can cancel or vanish.

    Norms couple positions (instance norm) or samples (batch norm), so they become identities;
    a max pool routes gradient to one element only, so it becomes an average pool; weights
    become small positive constants and biases zero, so that with a positive input every
    activation is positive and every path carries a positive gradient. Dropout is off (eval).
    """
    probe = copy.deepcopy(model)
    if isinstance(probe, _NORMS):
        raise TypeError("empirical_receptive_field needs a network, not a single norm layer")
    _replace_children(probe)
    probe = probe.double().eval()
    with torch.no_grad():
        for name, p in probe.named_parameters():
            if name.endswith("bias"):
                p.zero_()
            elif p.dim() >= 2:
                p.fill_(1.0 / p[0].numel())
    return probe


def _infer_in_channels(model: nn.Module) -> int:
    value = getattr(model, "in_channels", None)
    if isinstance(value, int):
        return value
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            return int(m.in_channels)
    raise ValueError(f"cannot tell how many input channels {type(model).__name__} takes: "
                     f"pass in_channels=")


def empirical_receptive_field(model: nn.Module, input_size: int | tuple[int, int],
                              in_channels: int | None = None,
                              output_index: tuple[int, int] | None = None,
                              output_channel: int = 0,
                              warn_if_clipped: bool = True) -> EmpiricalField:
    """Measure the receptive field of one output unit by back-propagation.

    A positive copy of ``model`` (see below) is run on a ``(1, C, H, W)`` input of ones; the
    gradient of output unit ``[0, output_channel, i, j]`` with respect to the input is non-zero
    exactly on the pixels that unit depends on, and the bounding box of those pixels is returned.
    ``model`` itself is not modified.

    To avoid cancellations the copy runs in float64 with weights set to positive constants and
    biases to zero; norm layers become identities (instance norm would couple every position,
    batch norm every sample), max pools become average pools, and dropout is off.

    Args:
        model: any network mapping ``(N, C, H, W)`` to ``(N, C', H', W')``.
        input_size: input side, or ``(height, width)``. Choose it large enough that the field
            of the chosen unit lies inside; a warning says when it touches the border.
        in_channels: input channels; by default ``model.in_channels`` or the first conv's.
        output_index: ``(i, j)`` of the output unit; default the centre ``(H'//2, W'//2)``.
        output_channel: channel of the output unit.
        warn_if_clipped: warn when the field touches the input border (turn it off for a
            whole-image discriminator, whose field is meant to).

    Returns:
        an :class:`EmpiricalField` (``.size`` for square fields).
    """
    h, w = (input_size, input_size) if isinstance(input_size, int) else _pair(input_size)
    c = _infer_in_channels(model) if in_channels is None else in_channels
    probe = _positive_probe(model)
    x = torch.ones(1, c, h, w, dtype=torch.float64, requires_grad=True)
    out = probe(x)
    if not isinstance(out, torch.Tensor) or out.dim() != 4:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise TypeError(f"empirical_receptive_field needs a model that returns an (N, C, H, W) "
                        f"tensor; {type(model).__name__} returned {got}")
    oh, ow = out.shape[2], out.shape[3]
    i, j = (oh // 2, ow // 2) if output_index is None else output_index
    if not (0 <= i < oh and 0 <= j < ow and 0 <= output_channel < out.shape[1]):
        raise ValueError(f"output unit (channel {output_channel}, {i}, {j}) is outside the "
                         f"output of shape {tuple(out.shape[1:])}")
    out[0, output_channel, i, j].backward()
    assert x.grad is not None
    mask = x.grad[0].abs().sum(0) > 0                                   # (H, W)
    if not mask.any():
        raise RuntimeError(f"output unit ({i}, {j}) does not depend on the input")
    rows = mask.any(1).nonzero().flatten()
    cols = mask.any(0).nonzero().flatten()
    top, bottom = int(rows[0]), int(rows[-1])
    left, right = int(cols[0]), int(cols[-1])
    clipped = top == 0 or left == 0 or bottom == h - 1 or right == w - 1
    if clipped and warn_if_clipped:
        warnings.warn(f"the receptive field of output unit ({i}, {j}) reaches the border of the "
                      f"{h}x{w} input, so it may be larger than measured; pass a larger "
                      f"input_size (unless the field is meant to cover the whole image)",
                      stacklevel=2)
    return EmpiricalField(bottom - top + 1, right - left + 1, top, left, clipped)


def _image_to_numpy(image: Any) -> Any:
    """``(C, H, W)`` / ``(H, W)`` tensor in [-1, 1] or [0, 1], or an ``(H, W[, C])`` array, to an
    ``(H, W[, 3])`` float array in [0, 1]."""
    import numpy as np

    if isinstance(image, torch.Tensor):
        t = image.detach().cpu().float()
        if t.dim() == 3:
            if t.shape[0] not in (1, 3):
                raise ValueError(f"expected a (1 or 3, H, W) image, got shape {tuple(t.shape)}")
            t = t.expand(3, -1, -1).permute(1, 2, 0)
        elif t.dim() != 2:
            raise ValueError(f"expected an image of shape (C, H, W) or (H, W), got "
                             f"{tuple(t.shape)}")
        if t.min() < 0:                       # the course's [-1, 1] range
            t = (t + 1) / 2
        return t.clamp(0, 1).numpy()
    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim not in (2, 3):
        raise ValueError(f"expected an (H, W) or (H, W, C) array, got shape {arr.shape}")
    if arr.max() > 1:
        arr = arr / 255.0
    return arr


def plot_receptive_field(image: Any, size: int | Any, center: tuple[int, int] | None = None,
                         ax: Any = None, stride: int | None = None, color: str = "yellow") -> Any:
    """Draw a ``size`` x ``size`` receptive field on ``image``; returns the matplotlib axes.

    Args:
        image: ``(C, H, W)`` or ``(H, W)`` tensor in [-1, 1] or [0, 1], or an ``(H, W[, C])``
            array.
        size: side of the field in pixels, or anything with a ``.size`` (a
            :class:`ReceptiveField` or :class:`EmpiricalField`).
        center: ``(row, col)`` of the field's centre; default the image centre.
        ax: axes to draw on; a new figure when ``None``.
        stride: if given, also draw (dashed) the field of the next output unit to the right,
            ``stride`` pixels away, to show how much neighbouring patches overlap.
        color: colour of the outline.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    side = int(size.size if hasattr(size, "size") and not isinstance(size, int) else size)
    if side < 1:
        raise ValueError(f"size={side} must be a positive number of pixels")
    arr = _image_to_numpy(image)
    height, width = arr.shape[:2]
    row, col = (height // 2, width // 2) if center is None else center
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(arr, cmap="gray" if arr.ndim == 2 else None, vmin=0, vmax=1)
    # Pixel (r, c) covers [c - 0.5, c + 0.5] x [r - 0.5, r + 0.5] in imshow's coordinates.
    corner = (col - side / 2, row - side / 2)
    ax.add_patch(Rectangle(corner, side, side, fill=False, edgecolor=color, linewidth=2))
    ax.plot([col], [row], marker="+", color=color)
    if stride is not None:
        ax.add_patch(Rectangle((corner[0] + stride, corner[1]), side, side, fill=False,
                               edgecolor=color, linewidth=1.5, linestyle="--"))
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)
    ax.set_title(f"receptive field {side}x{side}" + (f", stride {stride}" if stride else ""))
    ax.axis("off")
    return ax

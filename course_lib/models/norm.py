"""Normalization layers by name, as the pix2pix family chooses them.

pix2pix (Isola et al., CVPR 2017, Appendix 6.1) uses batch normalization in the generator and
the discriminator, and notes that with batch size 1 it acts like instance normalization
(Ulyanov et al. 2016); pix2pixHD (Wang et al., CVPR 2018, Sec. 3) uses instance normalization.
Every model of the course takes ``norm="batch" | "instance" | "none"`` and builds its layers
with :func:`make_norm`; :func:`conv_bias` says whether a convolution followed by that norm
needs its own bias.
"""
from __future__ import annotations

from typing import Literal

from torch import nn

__all__ = ["NormName", "NORMS", "check_norm", "make_norm", "conv_bias"]

NormName = Literal["batch", "instance", "none"]
NORMS: tuple[str, ...] = ("batch", "instance", "none")


def check_norm(norm: str) -> str:
    """Return ``norm`` if it names a known normalization, else raise a ``ValueError``."""
    if norm not in NORMS:
        raise ValueError(f"norm={norm!r} is not known: use one of {', '.join(map(repr, NORMS))}")
    return norm


def make_norm(norm: str, channels: int) -> nn.Module:
    """A normalization layer over ``channels`` feature maps.

    * ``"batch"``: ``BatchNorm2d`` with a learned scale and shift and running statistics.
    * ``"instance"``: ``InstanceNorm2d`` without learned scale/shift and without running
      statistics (the setting of the official pix2pix and pix2pixHD code), so it behaves the
      same in ``train()`` and ``eval()``.
    * ``"none"``: ``Identity``.
    """
    check_norm(norm)
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    return nn.Identity()


def conv_bias(norm: str) -> bool:
    """Whether convolutions of a network with this ``norm`` carry a bias.

    Batch norm subtracts the per-channel mean and adds its own shift, so a bias before it is
    redundant; the official pix2pix code drops it in every such layer. Instance norm here has
    no learned shift, so the convolution keeps its bias; without normalization it is needed.
    """
    return check_norm(norm) != "batch"

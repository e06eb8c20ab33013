"""Weight initialization of pix2pix: weights drawn from N(0, 0.02).

Isola et al. (CVPR 2017), Sec. 6.2 ("Training details"), following DCGAN (Radford et al.
2016): convolution weights are drawn from a Gaussian with mean 0 and standard deviation 0.02.
Normalization scales are drawn from N(1, 0.02) and every bias starts at 0, as in the official
pix2pix implementation. The course uses this scheme for every network; the other official
implementations differ slightly: pix2pixHD draws convolution weights from N(0, 0.02) too but
leaves convolution biases at PyTorch's default (uniform) initialization, and BicycleGAN's
default is Xavier-normal with gain 0.02 (``--init_type xavier``).
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["init_weights"]

_WEIGHTED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
             nn.ConvTranspose3d, nn.Linear)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm,
          nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d, nn.GroupNorm, nn.LayerNorm)


@torch.no_grad()
def init_weights(module: nn.Module, gain: float = 0.02) -> nn.Module:
    """Initialize every layer of ``module`` in place and return it.

    * convolutions, transposed convolutions and linear layers: weight ~ N(0, gain), bias = 0;
    * normalization layers with a learned scale: scale ~ N(1, gain), shift = 0.

    Args:
        module: any network; its sub-modules are visited recursively.
        gain: the standard deviation (0.02 in the paper).

    Uses the global torch random generator: seed it first for a reproducible network.
    """
    if gain < 0:
        raise ValueError(f"gain={gain} must be >= 0 (it is a standard deviation)")
    for m in module.modules():
        if isinstance(m, _WEIGHTED):
            nn.init.normal_(m.weight, mean=0.0, std=gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, _NORMS):
            if getattr(m, "weight", None) is not None:
                nn.init.normal_(m.weight, mean=1.0, std=gain)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
    return module

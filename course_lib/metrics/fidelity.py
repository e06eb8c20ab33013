"""Fidelity to the target: PSNR and SSIM.

pix2pix (Isola et al., CVPR 2017) argues in Sec. 4.1 that per-pixel measures such as L2
"do not assess joint statistics of the result" and prefers the FCN-score; pix2pixHD (Wang et
al., CVPR 2018) and BicycleGAN (Zhu et al., NeurIPS 2017) likewise report perceptual or
realism scores. The course still reports the two classic full-reference measures, because
they show the point: a blurry L1 output scores well on them while looking worse.

* PSNR: ``10 log10(1 / MSE)`` on images mapped to [0, 1], per image, then averaged.
* SSIM (Wang et al., IEEE TIP 2004, Eq. 13): 11x11 Gaussian window, sigma 1.5,
  ``K1 = 0.01``, ``K2 = 0.03``, on [0, 1] images.

Both come from torchmetrics' maintained implementations; inputs are the course's [-1, 1]
images.
"""
from __future__ import annotations

from typing import Any

import torch

from course_lib.metrics._checks import check_images, check_same_shape, to_unit

__all__ = ["psnr", "ssim"]


def _functional() -> Any:
    try:
        from torchmetrics.functional import image
    except Exception as err:  # a broken or missing install: say what to install
        raise RuntimeError(f"PSNR/SSIM need torchmetrics, which failed to import ({err}); "
                           f"install it with `pip install torchmetrics`") from err
    return image


def _pair(fake: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    f = check_images(fake, "fake", channels=None)
    r = check_images(real, "real", channels=None)
    check_same_shape(f, r, "fake", "real")
    return to_unit(f), to_unit(r.to(f.device))


def psnr(fake: torch.Tensor, real: torch.Tensor, reduction: str = "mean") -> float | torch.Tensor:
    """Peak signal-to-noise ratio in dB of ``fake`` against ``real`` (both in [-1, 1]).

    Args:
        fake, real: (N, C, H, W) or (C, H, W), the same shape.
        reduction: ``"mean"`` (average of per-image PSNRs, a float) or ``"none"`` (an (N,)
            tensor).

    Identical images give ``inf``.
    """
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    f, r = _pair(fake, real)
    per_image = _functional().peak_signal_noise_ratio(
        f, r, data_range=1.0, reduction="none", dim=(1, 2, 3))
    return per_image if reduction == "none" else float(per_image.mean())


def ssim(fake: torch.Tensor, real: torch.Tensor, reduction: str = "mean") -> float | torch.Tensor:
    """Structural similarity of ``fake`` to ``real`` (both in [-1, 1]); 1 = identical.

    Args:
        fake, real: (N, C, H, W) or (C, H, W), the same shape, at least 11 px per side.
        reduction: ``"mean"`` (a float) or ``"none"`` (an (N,) tensor).
    """
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    f, r = _pair(fake, real)
    if min(f.shape[-2:]) < 11:
        raise ValueError(f"SSIM uses an 11x11 window; images of size {tuple(f.shape[-2:])} are "
                         f"too small")
    per_image = _functional().structural_similarity_index_measure(
        f, r, data_range=1.0, reduction="none")
    return per_image if reduction == "none" else float(per_image.mean())

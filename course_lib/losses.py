"""The losses of pix2pix: the conditional GAN loss in three forms, and L1.

Isola et al., CVPR 2017, Sec. 3.1:

    L_cGAN(G, D) = E_{x,y}[log D(x, y)] + E_{x,z}[log(1 - D(x, G(x, z)))]        (Eq. 1)
    L_L1(G)      = E_{x,y,z}[ ||y - G(x, z)||_1 ]                                (Eq. 3)
    G*           = arg min_G max_D L_cGAN(G, D) + lambda L_L1(G)                 (Eq. 4)

D outputs logits (no sigmoid), one per patch; every loss averages over the whole map.
:class:`GANLoss` has three forms:

* ``"vanilla"`` -- Eq. 1 as binary cross-entropy on logits. D: ``-log s(x)`` on real pairs,
  ``-log(1 - s(x))`` on fake ones (s = sigmoid). G: the non-saturating form of Goodfellow et
  al. (2014) that the paper trains with (Sec. 3.3): maximise ``log D(x, G(x))``, i.e. minimise
  ``-log s(x)`` on fakes, which has strong gradients when D rejects them.
* ``"lsgan"`` -- least squares (Mao et al. 2017): ``(x - 1)^2`` for real targets, ``x^2`` for
  fake ones, for D and G alike (pix2pixHD and BicycleGAN use it).
* ``"hinge"`` -- (Lim & Ye 2017; Miyato et al. 2018): D minimises ``relu(1 - x)`` on real and
  ``relu(1 + x)`` on fake; G minimises ``-x``.

pix2pixHD's feature matching and BicycleGAN's KL and latent L1 terms will join this module.
"""
from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["GANMode", "GAN_MODES", "GANLoss", "l1_loss"]

GANMode = Literal["vanilla", "lsgan", "hinge"]
GAN_MODES: tuple[str, ...] = ("vanilla", "lsgan", "hinge")


class GANLoss(nn.Module):
    """The adversarial loss of D or G on a map of D's logits.

    Args:
        mode: ``"vanilla"`` (the paper), ``"lsgan"`` or ``"hinge"``.
        real_label, fake_label: targets of the vanilla and LSGAN forms (1 and 0; a smaller
            ``real_label`` gives one-sided label smoothing). Ignored by the hinge form.

    Call as ``loss(prediction, target_is_real, for_discriminator=True)``:

    * D step: ``loss(D(x, y), True) + loss(D(x, G(x).detach()), False)``;
    * G step: ``loss(D(x, G(x)), True, for_discriminator=False)``.

    Returns the mean over every element of ``prediction`` (a scalar tensor).
    """

    def __init__(self, mode: str = "vanilla", real_label: float = 1.0,
                 fake_label: float = 0.0) -> None:
        super().__init__()
        if mode not in GAN_MODES:
            raise ValueError(f"GANLoss mode={mode!r} is not known: use one of "
                             f"{', '.join(map(repr, GAN_MODES))}")
        self.mode = mode
        self.real_label, self.fake_label = float(real_label), float(fake_label)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"

    def forward(self, prediction: torch.Tensor, target_is_real: bool,
                for_discriminator: bool = True) -> torch.Tensor:
        if not isinstance(prediction, torch.Tensor):
            raise TypeError(f"GANLoss takes D's output as one tensor of logits, got "
                            f"{type(prediction).__name__}; for a multi-scale discriminator, "
                            f"apply it to each scale's output and add the results")
        if not isinstance(target_is_real, bool):
            raise TypeError(f"target_is_real must be True or False, got {target_is_real!r}")
        x = prediction.float()
        if self.mode == "hinge":
            if for_discriminator:
                return F.relu(1 - x).mean() if target_is_real else F.relu(1 + x).mean()
            if not target_is_real:
                raise ValueError("the hinge loss of the generator is -mean(D(fake)): call it with "
                                 "target_is_real=True, for_discriminator=False")
            return -x.mean()
        target = torch.full_like(x, self.real_label if target_is_real else self.fake_label)
        if self.mode == "vanilla":
            return F.binary_cross_entropy_with_logits(x, target)
        return F.mse_loss(x, target)


def l1_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference ``mean |real - fake|`` over all elements (Eq. 3).

    Both tensors must have the same shape (no broadcasting: a mismatch is a bug upstream).
    """
    if fake.shape != real.shape:
        raise ValueError(f"l1_loss got tensors of different shapes: fake {tuple(fake.shape)} "
                         f"and real {tuple(real.shape)}")
    return F.l1_loss(fake, real)

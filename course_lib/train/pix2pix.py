"""pix2pix's training step: the objective of Isola et al. (2017), Eq. 4, one update each.

    G* = arg min_G max_D  L_cGAN(G, D) + lambda * L_L1(G)            (Eq. 4, lambda = 100)

One step (Sec. 3.3 and 6.2 of the paper):

1. **D step.** D scores the real pair ``(x, y)`` and the fake pair ``(x, G(x))`` (the fake is
   detached: this step must not change G). Its loss is halved, "which slows down the rate at
   which D learns relative to G".
2. **G step.** G is updated to make D call ``(x, G(x))`` real -- the non-saturating form,
   maximising log D(x, G(x)) -- plus ``lambda`` times the L1 distance to the target.

Switches reproduce the paper's Table 1 ablation: ``use_gan=False`` is L1 alone,
``use_l1=False`` is cGAN alone, and ``conditional=False`` gives the unconditional GAN whose D
sees only the output. Adam with lr 2e-4 and betas (0.5, 0.999) and the constant-then-linear
schedule of :mod:`course_lib.train.schedule` are the paper's recipe.
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Literal, Mapping

import torch
from torch import nn

from course_lib.losses import GANLoss, l1_loss
from course_lib.train.optim import adam
from course_lib.train.schedule import linear_decay_scheduler

__all__ = ["Pix2PixConfig", "Pix2Pix", "pix2pix_step"]


@dataclass
class Pix2PixConfig:
    """Hyper-parameters of pix2pix (paper defaults).

    Attributes:
        lambda_l1: weight of the L1 term (Eq. 4).
        gan_mode: ``"vanilla"`` (the paper), ``"lsgan"`` or ``"hinge"``.
        use_gan, use_l1: switch each term off for the loss ablation (Table 1).
        conditional: D sees ``(input, output)`` (True) or the output alone (False).
        lr, beta1, beta2: Adam's settings (Sec. 6.2).
        steps: total steps (for the learning-rate schedule); decay_start defaults to half.
        amp: ``None``, ``"bf16"`` or ``"fp16"`` autocast (fp16 uses a gradient scaler; bf16
            also on CPUs with native bf16, see :mod:`course_lib.profiles`).
    """

    lambda_l1: float = 100.0
    gan_mode: str = "vanilla"
    use_gan: bool = True
    use_l1: bool = True
    conditional: bool = True
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    steps: int = 1000
    decay_start: int | None = None
    amp: Literal["bf16", "fp16"] | None = None

    def __post_init__(self) -> None:
        if not (self.use_gan or self.use_l1):
            raise ValueError("use_gan and use_l1 are both False: the generator would have no loss")
        if self.amp not in (None, "bf16", "fp16"):
            raise ValueError(f"amp={self.amp!r}: use None, 'bf16' or 'fp16'")


class Pix2Pix:
    """A generator, a discriminator, their optimizers and :meth:`train_step`.

    Args:
        generator: maps ``(N, C_in, H, W)`` inputs to ``(N, 3, H, W)`` outputs in [-1, 1].
        discriminator: takes ``(N, C_in + 3, H, W)`` pairs if ``config.conditional``, else
            ``(N, 3, H, W)`` outputs, and returns a map of logits. May be ``None`` when
            ``config.use_gan`` is False.
        config: the :class:`Pix2PixConfig`.
        fused_adam: fused Adam kernels (:func:`~course_lib.train.optim.adam`; speed only).
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module | None,
                 config: Pix2PixConfig | None = None, fused_adam: bool = False) -> None:
        self.config = config = config or Pix2PixConfig()
        if config.use_gan and discriminator is None:
            raise ValueError("use_gan=True needs a discriminator")
        self.G, self.D = generator, discriminator
        betas = (config.beta1, config.beta2)
        self.opt_G = adam(self.G.parameters(), config.lr, betas, fused_adam)
        self.sched_G = linear_decay_scheduler(self.opt_G, config.steps, config.decay_start)
        self.modules: dict[str, nn.Module] = {"G": self.G}
        self.optimizers: dict[str, torch.optim.Optimizer] = {"G": self.opt_G}
        self.schedulers: dict[str, Any] = {"G": self.sched_G}
        if config.use_gan:
            assert discriminator is not None
            self.opt_D = adam(discriminator.parameters(), config.lr, betas, fused_adam)
            self.modules["D"] = discriminator
            self.optimizers["D"] = self.opt_D
            self.schedulers["D"] = linear_decay_scheduler(self.opt_D, config.steps,
                                                          config.decay_start)
        self.gan_loss = GANLoss(config.gan_mode)
        device_type = next(self.G.parameters()).device.type
        self.scaler = torch.amp.GradScaler(device_type, enabled=config.amp == "fp16")
        self._device_type = device_type

    def _autocast(self):  # type: ignore[no-untyped-def]
        if self.config.amp is None:
            return nullcontext()
        dtype = torch.bfloat16 if self.config.amp == "bf16" else torch.float16
        return torch.autocast(self._device_type, dtype=dtype)

    def _d_input(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.cat([a, b], dim=1) if self.config.conditional else b

    def train_step(self, batch: Mapping[str, torch.Tensor]) -> dict[str, float]:
        """One D update and one G update on ``batch["A"]`` (input) and ``batch["B"]`` (target).

        Returns the losses and D's mean probabilities on real and fake pairs (``D_real`` near
        1 and ``D_fake`` near 0 for long stretches means D is winning).
        """
        cfg = self.config
        real_a, real_b = batch["A"], batch["B"]
        with self._autocast():
            fake_b = self.G(real_a)                                 # (N, 3, H, W)
        out: dict[str, float] = {}

        if cfg.use_gan:
            assert self.D is not None
            self.D.requires_grad_(True)
            with self._autocast():
                pred_real = self.D(self._d_input(real_a, real_b))
                pred_fake = self.D(self._d_input(real_a, fake_b.detach()))
                loss_d_real = self.gan_loss(pred_real, True, for_discriminator=True)
                loss_d_fake = self.gan_loss(pred_fake, False, for_discriminator=True)
                loss_d = 0.5 * (loss_d_real + loss_d_fake)          # halved (Sec. 3.3)
            self.opt_D.zero_grad(set_to_none=True)
            self.scaler.scale(loss_d).backward()
            self.scaler.step(self.opt_D)
            out.update(loss_D=loss_d.item(), loss_D_real=loss_d_real.item(),
                       loss_D_fake=loss_d_fake.item(),
                       D_real=torch.sigmoid(pred_real.float()).mean().item(),
                       D_fake=torch.sigmoid(pred_fake.float()).mean().item())
            self.D.requires_grad_(False)                             # G step: D is fixed

        with self._autocast():
            loss_g = torch.zeros((), device=real_a.device)
            if cfg.use_gan:
                assert self.D is not None
                loss_g_gan = self.gan_loss(self.D(self._d_input(real_a, fake_b)), True,
                                           for_discriminator=False)
                loss_g = loss_g + loss_g_gan
                out["loss_G_GAN"] = loss_g_gan.item()
            if cfg.use_l1:
                loss_g_l1 = l1_loss(fake_b.float(), real_b.float())
                loss_g = loss_g + cfg.lambda_l1 * loss_g_l1
                out["loss_G_L1"] = loss_g_l1.item()
        self.opt_G.zero_grad(set_to_none=True)
        self.scaler.scale(loss_g).backward()
        self.scaler.step(self.opt_G)
        self.scaler.update()
        if self.D is not None:
            self.D.requires_grad_(True)
        out["loss_G"] = loss_g.item()
        return out


def pix2pix_step(G: nn.Module, D: nn.Module, opt_G: torch.optim.Optimizer,
                 opt_D: torch.optim.Optimizer, real_a: torch.Tensor, real_b: torch.Tensor,
                 lambda_l1: float = 100.0, gan_loss: GANLoss | None = None) -> dict[str, float]:
    """One pix2pix update written out plainly: the reference of notebook 04's exercise.

    The same update as :meth:`Pix2Pix.train_step` with its defaults (conditional D, vanilla
    GAN loss, L1 with weight ``lambda_l1``; Eq. 4 and Sec. 3.3), without mixed precision and
    the ablation switches, so that it reads top to bottom:

    1. ``fake_b = G(real_a)``, computed once and used by both halves;
    2. D step: BCE on the real pair (target real) and on the *detached* fake pair (target
       fake), averaged (the halved D loss), one step of ``opt_D``;
    3. G step: the non-saturating loss of D on the fake pair (target real) plus
       ``lambda_l1`` times the L1 distance to ``real_b``, one step of ``opt_G``; D's weights
       are frozen meanwhile so that no gradient is wasted on them.

    Returns the losses and D's mean probabilities of "real", as floats.
    """
    gan_loss = gan_loss if gan_loss is not None else GANLoss("vanilla")
    fake_b = G(real_a)

    pred_real = D(torch.cat([real_a, real_b], dim=1))
    pred_fake = D(torch.cat([real_a, fake_b.detach()], dim=1))
    loss_d = 0.5 * (gan_loss(pred_real, True, for_discriminator=True)
                    + gan_loss(pred_fake, False, for_discriminator=True))
    opt_D.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_D.step()

    D.requires_grad_(False)
    loss_g_gan = gan_loss(D(torch.cat([real_a, fake_b], dim=1)), True, for_discriminator=False)
    loss_g_l1 = l1_loss(fake_b, real_b)
    loss_g = loss_g_gan + lambda_l1 * loss_g_l1
    opt_G.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_G.step()
    D.requires_grad_(True)
    return {"loss_D": loss_d.item(), "loss_G_GAN": loss_g_gan.item(),
            "loss_G_L1": loss_g_l1.item(), "loss_G": loss_g.item(),
            "D_real": torch.sigmoid(pred_real).mean().item(),
            "D_fake": torch.sigmoid(pred_fake).mean().item()}

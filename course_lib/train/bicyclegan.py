"""BicycleGAN's training step, and the three baselines it is compared with, in one trainer.

Zhu et al., "Toward Multimodal Image-to-Image Translation", NeurIPS 2017, Sec. 3. A generator
G(A, z) should give a *different* plausible B for every latent code z. Four objectives:

* ``"pix2pix+noise"`` (Sec. 3.1): G(A, z) with z ~ N(0, I), trained like pix2pix,
  ``L_GAN + lambda_L1 * L1(G(A, z), B)``. Nothing forces G to use z, and it learns not to.
* ``"cvae-gan"`` (Sec. 3.2, Eq. 4-5; B -> z -> B^): the encoder E maps the target B to
  q(z | B); G must rebuild B from A and a sample z of it::

      L_GAN^VAE + lambda_L1 * ||B - G(A, z)||_1 + lambda_KL * KL(q(z | B) || N(0, I))

  (the reparameterization trick makes z differentiable, so E learns from all three terms).
  At test time z comes from the prior, which the KL term makes plausible.
* ``"clr-gan"`` (Sec. 3.3, Eq. 6; z -> B^ -> z^): z is drawn from the prior, G(A, z) is judged
  by D, and E must recover z from the output: ``L_GAN + lambda_latent * ||z - E(G(A, z))||_1``
  (E's mean is the point estimate). Here, where E has no other loss, it is trained by this
  term with G, as Eq. 6 writes ``min over G and E``.
* ``"bicyclegan"`` (Sec. 3.4, Eq. 8): both cycles at once, with the weights of the paper and
  the official code: ``lambda_L1 = 10``, ``lambda_KL = 0.01``, ``lambda_latent = 0.5``, both GAN
  terms weighted 1, and one discriminator per branch. As in the paper, **E is not updated by
  the latent regression term** -- only G is: optimized jointly on it, G and E could agree on
  a code that hides z in the image without it changing the image's mode (Sec. 3.4; the
  official code freezes E for that term). The batch is split in half: the first half goes
  through the cVAE-GAN branch, the second half's targets are the real images of the cLR-GAN
  branch's discriminator, whose fakes are generated from the first half's inputs and random
  codes (as in the official ``bicycle_gan_model``; its batch size is 2).

Losses are the least-squares GAN (LSGAN, Sec. 3.5) summed over the discriminator's scales; D
sees the output alone (``conditional_D=False``, the official default); D's loss is the sum of
its real and fake terms. Adam (lr 2e-4, betas 0.5/0.999) and the constant-then-linear
schedule of :mod:`course_lib.train.schedule` (the official code: 100 + 100 epochs). Each step
updates G and E first, then the discriminator(s), all on the same generated images, in the
order of the official ``optimize_parameters`` (``update_G_and_E``, then ``update_D``): G's
GAN terms are judged by the discriminators as they were before this step.

**Several processes** (``torchrun``): the networks may be wrapped in DistributedDataParallel,
which averages the gradients; each process holds its share of the global batch (for the
hybrid, its share of *each* half: :class:`~course_lib.train.sampling.ShardedStepBatchSampler`
with ``groups=2``). The random numbers (the prior's z, the reparameterization's noise) are
drawn for the whole global batch, from a random state that every process keeps identical, and
each process takes its slice (``rank``, ``world_size``), so N processes train the model that
one process trains on the same global batch.
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from course_lib.losses import GAN_MODES, GANLoss, kl_divergence, l1_loss, latent_l1_loss
from course_lib.models.bicyclegan import reparameterize
from course_lib.train.checkpoint import unwrap
from course_lib.train.optim import adam
from course_lib.train.schedule import linear_decay_scheduler

__all__ = ["VARIANTS", "BicycleGANConfig", "BicycleGAN", "multiscale_gan_loss",
           "latent_regression_loss", "hybrid_generator_loss", "frozen"]

VARIANTS: tuple[str, ...] = ("pix2pix+noise", "cvae-gan", "clr-gan", "bicyclegan")


@dataclass
class BicycleGANConfig:
    """Hyper-parameters of BicycleGAN and its baselines (paper and official defaults).

    Attributes:
        variant: ``"pix2pix+noise"``, ``"cvae-gan"``, ``"clr-gan"`` or ``"bicyclegan"``.
        lambda_l1: weight of the image reconstruction ||B - G(A, E(B))||_1 (10), and of
            pix2pix+noise's L1 term.
        lambda_kl: weight of the KL term (0.01).
        lambda_latent: weight of the latent regression ||z - E(G(A, z))||_1 (0.5).
        lambda_gan: weight of the GAN term of the cVAE-GAN branch (or of the only D) (1).
        lambda_gan2: weight of the GAN term of the cLR-GAN branch (1).
        gan_mode: ``"lsgan"`` (the paper), ``"vanilla"`` or ``"hinge"``.
        conditional_D: D sees ``(A, B)`` concatenated instead of B alone (off officially).
        use_same_D: one discriminator for both branches of the hybrid (off: two).
        latent_updates_E: whether the latent regression term also trains E. ``None`` means
            the paper: not in the hybrid (Sec. 3.4), yes in cLR-GAN alone (Eq. 6), where it
            is E's only loss.
        lr, beta1, beta2: Adam's settings for G, E and the discriminators.
        steps: total steps (for the learning-rate schedule); ``decay_start`` defaults to half.
        amp: ``None``, ``"bf16"`` or ``"fp16"`` autocast (fp16 uses a gradient scaler); the
            losses (L1, KL, latent L1) are computed in float32.
        update_order: ``"G_first"`` (the official ``optimize_parameters``: G and E step, then
            the discriminators, which judged G with their weights from before the step) or
            ``"D_first"`` (the discriminators step first and G is judged by the updated ones,
            as in the course's pix2pix step and in earlier versions of this trainer).
    """

    variant: str = "bicyclegan"
    lambda_l1: float = 10.0
    lambda_kl: float = 0.01
    lambda_latent: float = 0.5
    lambda_gan: float = 1.0
    lambda_gan2: float = 1.0
    gan_mode: str = "lsgan"
    conditional_D: bool = False
    use_same_D: bool = False
    latent_updates_E: bool | None = None
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    steps: int = 1000
    decay_start: int | None = None
    amp: str | None = None
    update_order: str = "G_first"

    def __post_init__(self) -> None:
        if self.amp not in (None, "bf16", "fp16"):
            raise ValueError(f"amp={self.amp!r}: use None, 'bf16' or 'fp16'")
        if self.update_order not in ("G_first", "D_first"):
            raise ValueError(f"update_order={self.update_order!r}: use 'G_first' (the official "
                             f"code) or 'D_first'")
        if self.variant not in VARIANTS:
            raise ValueError(f"variant={self.variant!r} is not known: use one of "
                             f"{', '.join(map(repr, VARIANTS))}")
        if self.gan_mode not in GAN_MODES:
            raise ValueError(f"gan_mode={self.gan_mode!r}: use one of {GAN_MODES}")
        for name in ("lambda_l1", "lambda_kl", "lambda_latent", "lambda_gan", "lambda_gan2",
                     "lr"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 0")

    # Which parts a variant uses.
    @property
    def vae_branch(self) -> bool:
        """B -> z -> B^ (cVAE-GAN and the hybrid)."""
        return self.variant in ("cvae-gan", "bicyclegan")

    @property
    def lr_branch(self) -> bool:
        """z -> B^ -> z^ (cLR-GAN and the hybrid)."""
        return self.variant in ("clr-gan", "bicyclegan")

    @property
    def uses_encoder(self) -> bool:
        return self.variant != "pix2pix+noise"

    @property
    def two_discriminators(self) -> bool:
        return self.variant == "bicyclegan" and not self.use_same_D

    @property
    def encoder_learns_latent(self) -> bool:
        """Whether the latent regression term updates E (see ``latent_updates_E``)."""
        if self.latent_updates_E is not None:
            return bool(self.latent_updates_E)
        return self.variant == "clr-gan"


def multiscale_gan_loss(gan_loss: GANLoss, predictions: torch.Tensor | Sequence[torch.Tensor],
                        target_is_real: bool, for_discriminator: bool = True) -> torch.Tensor:
    """``gan_loss`` summed over the logit maps of a multi-scale D (one tensor is one scale)."""
    preds = [predictions] if isinstance(predictions, torch.Tensor) else list(predictions)
    if not preds:
        raise ValueError("the discriminator returned no logit maps")
    total = gan_loss(preds[0], target_is_real, for_discriminator)
    for p in preds[1:]:
        total = total + gan_loss(p, target_is_real, for_discriminator)
    return total


class frozen:  # noqa: N801 - used as a context manager, reads like one
    """Context manager: ``requires_grad=False`` on a module's parameters inside, restored after.

    A forward pass through a frozen module builds no gradient path into its parameters, while
    gradients still flow *through* it to its inputs (and on to whatever produced them).
    """

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self.flags: list[bool] = []

    def __enter__(self) -> nn.Module:
        self.flags = [p.requires_grad for p in self.module.parameters()]
        self.module.requires_grad_(False)
        return self.module

    def __exit__(self, *exc: Any) -> None:
        for p, flag in zip(self.module.parameters(), self.flags):
            p.requires_grad_(flag)


def latent_regression_loss(E: nn.Module, fake_b_random: torch.Tensor, z_random: torch.Tensor,
                           update_encoder: bool = False) -> torch.Tensor:
    """``||z - E(G(A, z))||_1`` with E's mean as the estimate (Zhu et al. Eq. 6, Sec. 3.3).

    With ``update_encoder=False`` (the hybrid model, Sec. 3.4) E's parameters are frozen
    while it encodes the generated image, so the loss sends gradients through E into
    ``fake_b_random`` (and so into G) but leaves E's own ``.grad`` untouched. This is the
    reference of notebook 06's exercise.
    """
    if update_encoder:
        mu, _ = E(fake_b_random)
    else:
        with frozen(E):
            mu, _ = E(fake_b_random)
    return latent_l1_loss(mu, z_random)


def hybrid_generator_loss(pred_fake_encoded: torch.Tensor | Sequence[torch.Tensor],
                          pred_fake_random: torch.Tensor | Sequence[torch.Tensor],
                          fake_b_encoded: torch.Tensor, real_b_encoded: torch.Tensor,
                          mu: torch.Tensor, logvar: torch.Tensor, lambda_l1: float = 10.0,
                          lambda_kl: float = 0.01, gan_loss: GANLoss | None = None
                          ) -> torch.Tensor:
    """The loss of G and E in BicycleGAN (Eq. 8) without the latent term, which only G takes.

    ``GAN(D(G(A, E(B)))) + GAN(D2(G(A, z))) + lambda_l1 * L1(G(A, E(B)), B) +
    lambda_kl * KL(q(z|B) || N(0, I))``, each GAN term the generator's LSGAN loss (target
    "real") summed over D's scales. This is the reference of notebook 06's exercise.
    """
    gan_loss = gan_loss if gan_loss is not None else GANLoss("lsgan")
    return (multiscale_gan_loss(gan_loss, pred_fake_encoded, True, for_discriminator=False)
            + multiscale_gan_loss(gan_loss, pred_fake_random, True, for_discriminator=False)
            + lambda_l1 * l1_loss(fake_b_encoded, real_b_encoded)
            + lambda_kl * kl_divergence(mu, logvar))


def _mean_output(preds: torch.Tensor | Sequence[torch.Tensor]) -> float:
    maps = [preds] if isinstance(preds, torch.Tensor) else list(preds)
    return float(sum(float(p.detach().float().mean()) for p in maps) / len(maps))


class BicycleGAN:
    """G, E, the discriminator(s), their optimizers and :meth:`train_step`, for one variant.

    Args:
        generator: ``G(a, z)`` (:class:`~course_lib.models.LatentUNetGenerator`).
        encoder: E (:class:`~course_lib.models.LatentEncoder`); ``None`` for pix2pix+noise.
        discriminator: D of the cVAE-GAN branch, or the only D (pix2pix+noise, cLR-GAN, or
            the hybrid with ``use_same_D``).
        discriminator2: D2 of the hybrid's cLR-GAN branch (needed unless ``use_same_D``).
        config: the :class:`BicycleGANConfig`.
        rank, world_size: this process's place in a ``torchrun`` run (default: one process);
            the random codes are drawn for all ``world_size`` shares and sliced.
        fused_adam: fused Adam kernels (:func:`~course_lib.train.optim.adam`; speed only).

    ``modules``, ``optimizers`` and ``schedulers`` are the dicts that
    :class:`~course_lib.train.engine.TrainingLoop` saves and restores.
    """

    def __init__(self, generator: nn.Module, encoder: nn.Module | None,
                 discriminator: nn.Module, discriminator2: nn.Module | None = None,
                 config: BicycleGANConfig | None = None, rank: int = 0,
                 world_size: int = 1, fused_adam: bool = False) -> None:
        self.config = cfg = config or BicycleGANConfig()
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank={rank} must lie in [0, world_size={world_size})")
        self.rank, self.world_size = rank, world_size
        if cfg.uses_encoder and encoder is None:
            raise ValueError(f"variant {cfg.variant!r} needs an encoder E")
        if cfg.two_discriminators and discriminator2 is None:
            raise ValueError("the hybrid uses two discriminators (one per branch): pass "
                             "discriminator2, or set use_same_D=True")
        self.G, self.E, self.D = generator, encoder if cfg.uses_encoder else None, discriminator
        self.D2 = discriminator2 if cfg.two_discriminators else None
        self.nz = int(getattr(unwrap(generator), "nz", 0) or 0)
        if self.nz < 1:
            raise ValueError("the generator has no attribute nz (latent size): use "
                             "LatentUNetGenerator")
        betas = (cfg.beta1, cfg.beta2)
        self.modules: dict[str, nn.Module] = {"G": self.G}
        if self.E is not None:
            self.modules["E"] = self.E
        self.modules["D"] = self.D
        if self.D2 is not None:
            self.modules["D2"] = self.D2
        self.optimizers: dict[str, torch.optim.Optimizer] = {
            k: adam(m.parameters(), cfg.lr, betas, fused_adam)
            for k, m in self.modules.items()}
        self.schedulers: dict[str, Any] = {
            k: linear_decay_scheduler(o, cfg.steps, cfg.decay_start)
            for k, o in self.optimizers.items()}
        self.gan_loss = GANLoss(cfg.gan_mode)
        self._device_type = next(self.G.parameters()).device.type
        self.scaler = torch.amp.GradScaler(self._device_type, enabled=cfg.amp == "fp16")

    def _autocast(self):  # type: ignore[no-untyped-def]
        if self.config.amp is None:
            return nullcontext()
        dtype = torch.bfloat16 if self.config.amp == "bf16" else torch.float16
        return torch.autocast(self._device_type, dtype=dtype)

    def _d_input(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.cat([a, b], dim=1) if self.config.conditional_D else b

    def _d_step(self, D: nn.Module, opt: torch.optim.Optimizer, real: torch.Tensor,
                fake: torch.Tensor) -> tuple[float, float, float]:
        """One update of D: real -> "real", detached fake -> "fake". Returns (loss, D(real),
        D(fake)) as floats."""
        with self._autocast():
            pred_real, pred_fake = D(real), D(fake.detach())
            loss = (multiscale_gan_loss(self.gan_loss, pred_real, True)
                    + multiscale_gan_loss(self.gan_loss, pred_fake, False))
        opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(opt)
        return loss.item(), _mean_output(pred_real), _mean_output(pred_fake)

    def _normal(self, n: int, device: torch.device, dtype: torch.dtype | None = None
                ) -> torch.Tensor:
        """This process's ``n`` rows of an (n * world_size, nz) standard normal draw (the
        global RNG, so seeding makes runs repeatable; one process: the whole draw)."""
        full = torch.randn(n * self.world_size, self.nz, device=device, dtype=dtype)
        return full[self.rank * n:(self.rank + 1) * n]

    def random_z(self, n: int, device: torch.device) -> torch.Tensor:
        """n codes from the prior N(0, I) (this process's share of the global batch's)."""
        return self._normal(n, device)

    def encode_z(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """z ~ q(z | B) by the reparameterization trick (Sec. 3.2), ``mu + exp(logvar / 2) *
        eps``, as :func:`~course_lib.models.bicyclegan.reparameterize`, with ``eps`` this
        process's share of the global batch's draw."""
        if self.world_size == 1:
            return reparameterize(mu, logvar)
        eps = self._normal(mu.shape[0], mu.device, mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps

    def train_step(self, batch: Mapping[str, torch.Tensor]) -> dict[str, float]:
        """One update of G (and E), then one of the discriminator(s), on ``batch["A"], batch["B"]``.

        Returns every loss term (unweighted) and the total of G; ``D_real``/``D_fake`` are D's
        mean outputs on real and fake images (LSGAN targets 1 and 0; with the vanilla loss
        they are logits).
        """
        cfg = self.config
        real_a, real_b = batch["A"], batch["B"]
        n = real_a.shape[0]
        device = real_a.device
        if cfg.variant == "bicyclegan":
            if n < 2 or n % 2:
                raise ValueError(f"the hybrid splits each batch in two halves: the batch size "
                                 f"must be even, got {n}")
            h = n // 2
            a_enc, b_enc, a_rnd, b_rnd = real_a[:h], real_b[:h], real_a[:h], real_b[h:]
            a_real_rnd = real_a[h:]
        else:
            a_enc = b_enc = a_rnd = b_rnd = a_real_rnd = None  # type: ignore[assignment]
            if cfg.vae_branch:
                a_enc, b_enc = real_a, real_b
            else:
                a_rnd, b_rnd, a_real_rnd = real_a, real_b, real_a

        out: dict[str, float] = {}
        # ---- generate (once; both updates use these images)
        fake_enc = fake_rnd = mu = logvar = z_rnd = None
        with self._autocast():
            if cfg.vae_branch:
                assert self.E is not None
                mu, logvar = self.E(b_enc)
                mu, logvar = mu.float(), logvar.float()
                fake_enc = self.G(a_enc, self.encode_z(mu, logvar))    # B -> z -> B^
            if cfg.lr_branch or cfg.variant == "pix2pix+noise":
                z_rnd = self.random_z(a_rnd.shape[0], device)
                fake_rnd = self.G(a_rnd, z_rnd)                          # z -> B^

        def update_G_and_E() -> None:
            # discriminators frozen: no gradient is spent on them; they judge G with the
            # weights they have at this point (before their own step, in the official order)
            nonlocal loss_g
            self.D.requires_grad_(False)
            if self.D2 is not None:
                self.D2.requires_grad_(False)
            loss_g = torch.zeros((), device=device)
            with self._autocast():   # G's and E's losses (L1, KL in float32)
                if fake_enc is not None:
                    assert mu is not None and logvar is not None
                    g_gan = multiscale_gan_loss(self.gan_loss,
                                                self.D(self._d_input(a_enc, fake_enc)),
                                                True, for_discriminator=False)
                    g_l1 = l1_loss(fake_enc.float(), b_enc.float())
                    kl = kl_divergence(mu, logvar)
                    loss_g = (loss_g + cfg.lambda_gan * g_gan + cfg.lambda_l1 * g_l1
                              + cfg.lambda_kl * kl)
                    out.update(loss_G_GAN=g_gan.item(), loss_G_L1=g_l1.item(), loss_kl=kl.item())
                if fake_rnd is not None:
                    assert z_rnd is not None
                    D = self.D2 if self.D2 is not None else self.D
                    g_gan2 = multiscale_gan_loss(self.gan_loss, D(self._d_input(a_rnd, fake_rnd)),
                                                 True, for_discriminator=False)
                    if cfg.variant == "bicyclegan":
                        loss_g = loss_g + cfg.lambda_gan2 * g_gan2
                        out["loss_G_GAN2"] = g_gan2.item()
                    else:
                        loss_g = loss_g + cfg.lambda_gan * g_gan2
                        out["loss_G_GAN"] = g_gan2.item()
                    if cfg.variant == "pix2pix+noise":
                        g_l1 = l1_loss(fake_rnd.float(), b_rnd.float())
                        loss_g = loss_g + cfg.lambda_l1 * g_l1
                        out["loss_G_L1"] = g_l1.item()
                    else:
                        assert self.E is not None
                        z_l1 = latent_regression_loss(self.E, fake_rnd, z_rnd,
                                                      update_encoder=cfg.encoder_learns_latent)
                        loss_g = loss_g + cfg.lambda_latent * z_l1
                        out["loss_z_L1"] = z_l1.item()
            for name in ("G", "E"):
                if name in self.optimizers:
                    self.optimizers[name].zero_grad(set_to_none=True)
            self.scaler.scale(loss_g).backward()
            for name in ("G", "E"):
                if name in self.optimizers:
                    self.scaler.step(self.optimizers[name])
            out["loss_G"] = loss_g.item()

        def update_D() -> None:
            # the same generated images, detached
            self.D.requires_grad_(True)
            if self.D2 is not None:
                self.D2.requires_grad_(True)
            if fake_enc is not None:
                loss, d_real, d_fake = self._d_step(self.D, self.optimizers["D"],
                                                    self._d_input(a_enc, b_enc),
                                                    self._d_input(a_enc, fake_enc))
                out.update(loss_D=loss, D_real=d_real, D_fake=d_fake)
            if fake_rnd is not None:
                name = "D2" if self.D2 is not None else "D"
                D = self.D2 if self.D2 is not None else self.D
                loss, d_real, d_fake = self._d_step(D, self.optimizers[name],
                                                    self._d_input(a_real_rnd, b_rnd),
                                                    self._d_input(a_rnd, fake_rnd))
                key = "2" if cfg.variant == "bicyclegan" else ""
                out.update({f"loss_D{key}": loss, f"D{key}_real": d_real, f"D{key}_fake": d_fake})

        loss_g = torch.zeros((), device=device)
        if cfg.update_order == "G_first":
            update_G_and_E()
            update_D()
        else:
            update_D()
            update_G_and_E()
        self.D.requires_grad_(True)
        if self.D2 is not None:
            self.D2.requires_grad_(True)
        self.scaler.update()
        return out

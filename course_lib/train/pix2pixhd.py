"""pix2pixHD's training step and its coarse-to-fine schedule (Wang et al., CVPR 2018).

The objective (Sec. 3.2, Eq. 5), with LSGAN as the adversarial loss (Sec. 4)::

    min_G ( max_{D_1..D_k} sum_k L_GAN(G, D_k) ) + lambda sum_k L_FM(G, D_k)    lambda = 10

plus, optionally, lambda times the VGG perceptual loss. G's input is the one-hot label map,
the instance boundary map (Sec. 3.3) and, with the feature encoder E, the instance-averaged
features of the real photo (Sec. 3.4; E is trained jointly with G). D sees the labels and
boundaries with the image, never the features.

One step, as the official code does it (``pix2pixHD_model.py``, ``train.py``): all losses are
computed with the same D, then G and D are updated. D's loss is halved (``0.5 * (real +
fake)``); the GAN losses are summed over D's scales; feature matching is
:func:`~course_lib.losses.feature_matching_loss`.

**Coarse-to-fine** (Sec. 3.2, "we first train the global generator and then train the local
enhancer in the order of their resolutions. We then jointly fine-tune all the networks
together"). With a :class:`~course_lib.models.LocalEnhancer` the run has three phases,
switched by step (``Pix2PixHDConfig.global_steps`` and ``fix_global_steps``):

1. ``"global"``: G1 alone, on the input pyramid's coarsest level, against targets
   down-sampled by area averaging, with its own discriminator (``global_discriminator``);
2. ``"local"``: the enhancer G2 with G1 frozen (the official ``niter_fix_global``);
3. ``"joint"``: everything, with a fresh Adam over all of G (as the official
   ``update_fixed_params``).

Each stage (phase 1; phases 2+3) keeps its learning rate for its first half and decays it
linearly to zero over its second (Sec. 4 / the official ``niter`` = ``niter_decay``). The
official 2048x1024 recipe trains G1 as a separate 1024x512 run and loads it; the same is
done here by passing a trained G1 (``LocalEnhancer(global_generator=...)``) with
``global_steps=0``. With a :class:`~course_lib.models.GlobalGenerator` there is one phase.

**Several processes** (``torchrun``, :mod:`course_lib.train.distributed`): the trainer keeps
the bare networks (checkpoints, samples and the phase logic read them) and runs every forward
pass through ``wrap(network, find_unused)``, e.g. DistributedDataParallel, which averages the
gradients over processes. G's phases pass through one module, :class:`GeneratorPhases`
(``coarse=True`` is phase 1's G1 alone), wrapped with ``find_unused=True`` for a local
enhancer: phase 1 leaves G2's weights without gradients, phase 2 freezes G1's.
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.losses import GAN_MODES, GANLoss, VGGPerceptualLoss, feature_matching_loss
from course_lib.models.instance import discriminator_labels
from course_lib.models.pix2pixhd import GlobalGenerator, LocalEnhancer, downsample
from course_lib.train.optim import adam as make_adam
from course_lib.train.schedule import linear_decay_multiplier

__all__ = ["Pix2PixHDConfig", "Pix2PixHD", "PhaseSchedule", "PHASES", "GeneratorPhases"]

PHASES: tuple[str, ...] = ("global", "local", "joint")


@dataclass
class Pix2PixHDConfig:
    """Hyper-parameters of pix2pixHD (paper / official defaults).

    Attributes:
        num_classes: one-hot label channels (35 for Cityscapes; 8 for the course's streets).
        use_boundary: feed the instance boundary map to G and D (Sec. 3.3).
        use_features: train the instance feature encoder E and feed its pooled features to G
            (Sec. 3.4); needs an ``encoder``.
        use_feature_matching: add the feature-matching loss (Eq. 4) with weight
            ``lambda_feat`` (10).
        use_vgg: add the VGG perceptual loss with weight ``lambda_vgg`` (10); needs ImageNet
            weights (:func:`~course_lib.losses.vgg_perceptual_loss`).
        gan_mode: ``"lsgan"`` (the paper), ``"vanilla"`` or ``"hinge"``.
        lr, beta1, beta2: Adam (2e-4, 0.5, 0.999).
        steps: total steps of the run, all phases.
        global_steps: phase 1 length (G1 alone, coarse resolution); LocalEnhancer only.
        fix_global_steps: phase 2 length (G2 with G1 frozen); LocalEnhancer only.
        amp: ``None``, ``"bf16"`` or ``"fp16"`` autocast (bf16 also on CPUs with native bf16,
            see :mod:`course_lib.profiles`).
    """

    num_classes: int = 35
    use_boundary: bool = True
    use_features: bool = False
    use_feature_matching: bool = True
    lambda_feat: float = 10.0
    use_vgg: bool = False
    lambda_vgg: float = 10.0
    gan_mode: str = "lsgan"
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    steps: int = 1000
    global_steps: int = 0
    fix_global_steps: int = 0
    amp: Literal["bf16", "fp16"] | None = None

    def __post_init__(self) -> None:
        if self.gan_mode not in GAN_MODES:
            raise ValueError(f"gan_mode={self.gan_mode!r}: use one of {GAN_MODES}")
        if self.amp not in (None, "bf16", "fp16"):
            raise ValueError(f"amp={self.amp!r}: use None, 'bf16' or 'fp16'")
        for name in ("steps", "global_steps", "fix_global_steps", "num_classes"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be an int >= 0, got {v!r}")
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.global_steps + self.fix_global_steps > self.steps:
            raise ValueError(f"global_steps ({self.global_steps}) + fix_global_steps "
                             f"({self.fix_global_steps}) exceed steps ({self.steps})")

    def phase(self, step: int, enhancer: bool = True) -> str:
        """The phase of 0-based ``step``: ``"global"``, ``"local"`` or ``"joint"``."""
        if not enhancer:
            return "global"
        if step < self.global_steps:
            return "global"
        if step < self.global_steps + self.fix_global_steps:
            return "local"
        return "joint"


class PhaseSchedule:
    """The learning rates of every optimizer of a run, per step, and the step itself.

    ``stage_of[name]`` says which stage an optimizer belongs to: 1 (phase 1, steps
    ``[0, L1)``) or 2 (phases 2-3, ``[L1, steps)``). Within its stage an optimizer's rate is
    ``lr * m(t - start)`` with the constant-then-linear multiplier of
    :func:`~course_lib.train.schedule.linear_decay_multiplier` over the stage's length.
    :meth:`step` advances by one step; the loop calls it after every training step and saves
    its ``state_dict`` in checkpoints, so :attr:`t` is also the trainer's step counter.
    """

    def __init__(self, optimizers: Mapping[str, torch.optim.Optimizer],
                 stage_of: Mapping[str, int], lr: float, steps: int, stage1_steps: int) -> None:
        self.optimizers = dict(optimizers)
        self.stage_of = dict(stage_of)
        self.lr, self.steps, self.l1 = lr, steps, stage1_steps
        self.t = 0
        self._apply()

    def multiplier(self, name: str, t: int) -> float:
        if self.stage_of[name] == 1:
            return linear_decay_multiplier(t, self.l1) if t < self.l1 else 0.0
        if t < self.l1:
            return 1.0
        return linear_decay_multiplier(t - self.l1, self.steps - self.l1)

    def _apply(self) -> None:
        for name, opt in self.optimizers.items():
            for group in opt.param_groups:
                group["lr"] = self.lr * self.multiplier(name, min(self.t, self.steps - 1))

    def step(self) -> None:
        self.t += 1
        self._apply()

    def state_dict(self) -> dict[str, int]:
        return {"t": self.t}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.t = int(state["t"])
        self._apply()


class GeneratorPhases(nn.Module):
    """G as one forward: ``forward(x)`` is the full generator, ``forward(x, coarse=True)`` a
    local enhancer's global generator G1 alone on the input's coarsest level (phase 1).

    One module with both paths lets a wrapper such as DistributedDataParallel see every
    generator pass (a wrapper only synchronises the gradients of passes through its own
    ``forward``, never of ``G.coarse`` called beside it). State-dict keys gain a ``G.``
    prefix: checkpoints hold the bare generator, never this module.
    """

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        self.G = generator

    def forward(self, x: torch.Tensor, coarse: bool = False) -> torch.Tensor:
        if coarse:
            assert isinstance(self.G, LocalEnhancer)
            return self.G.coarse(x)                     # (N, 3, H/2^L, W/2^L)
        return self.G(x)


Wrap = Callable[[nn.Module, bool], nn.Module]


class Pix2PixHD:
    """G (and E), D (and the coarse D of phase 1), their optimizers and :meth:`train_step`.

    Args:
        generator: a :class:`~course_lib.models.GlobalGenerator` or
            :class:`~course_lib.models.LocalEnhancer` whose ``in_channels`` is
            ``num_classes + use_boundary + feature_dim``.
        discriminator: the multi-scale D at the data's resolution, ``in_channels =
            num_classes + use_boundary + 3``.
        config: :class:`Pix2PixHDConfig`.
        encoder: the :class:`~course_lib.models.InstanceEncoder` (``use_features``).
        global_discriminator: D of phase 1 (at the coarse resolution); needed when
            ``global_steps > 0``.
        vgg: a :class:`~course_lib.losses.VGGPerceptualLoss` (``use_vgg``).
        wrap: ``wrap(network, find_unused) -> module`` through which every forward pass of a
            trained network runs (default: none); the command line passes
            :func:`~course_lib.train.distributed.wrap_ddp` under ``torchrun``. The networks
            themselves stay bare in :attr:`modules`.
        fused_adam: fused Adam kernels (:func:`~course_lib.train.optim.adam`; speed only).

    Batches are dicts with ``"B"`` (the photo), ``"class_map"`` and ``"instance_map"``.
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module,
                 config: Pix2PixHDConfig | None = None, encoder: nn.Module | None = None,
                 global_discriminator: nn.Module | None = None,
                 vgg: VGGPerceptualLoss | None = None, wrap: Wrap | None = None,
                 fused_adam: bool = False) -> None:
        self.config = cfg = config or Pix2PixHDConfig()
        if not isinstance(generator, (GlobalGenerator, LocalEnhancer)):
            raise TypeError(f"generator must be a GlobalGenerator or LocalEnhancer, got "
                            f"{type(generator).__name__}")
        self.enhanced = isinstance(generator, LocalEnhancer)
        if not self.enhanced and (cfg.global_steps or cfg.fix_global_steps):
            raise ValueError("global_steps and fix_global_steps are phases of a LocalEnhancer; "
                             "a GlobalGenerator trains in one phase (set both to 0)")
        if cfg.use_features and encoder is None:
            raise ValueError("use_features=True needs encoder=InstanceEncoder(...)")
        if cfg.use_vgg and vgg is None:
            raise ValueError("use_vgg=True needs vgg=...: see course_lib.losses."
                             "vgg_perceptual_loss() (it says why it is off when it is)")
        if cfg.global_steps and global_discriminator is None:
            raise ValueError("global_steps > 0 trains G1 at the coarse resolution and needs "
                             "global_discriminator=MultiscaleDiscriminator(...) sized for it")
        feat_dim = getattr(encoder, "out_channels", 0) if cfg.use_features else 0
        want = cfg.num_classes + int(cfg.use_boundary) + feat_dim
        if generator.in_channels != want:
            raise ValueError(f"the generator takes {generator.in_channels} channels but its input "
                             f"has {want}: {cfg.num_classes} classes + "
                             f"{int(cfg.use_boundary)} boundary + {feat_dim} feature channels")
        d_want = cfg.num_classes + int(cfg.use_boundary) + 3
        for name, d in (("discriminator", discriminator),
                        ("global_discriminator", global_discriminator)):
            if d is not None and getattr(d, "in_channels", d_want) != d_want:
                raise ValueError(f"{name} takes {d.in_channels} channels but D sees "
                                 f"{cfg.num_classes} classes + {int(cfg.use_boundary)} boundary "
                                 f"+ 3 image channels = {d_want}")
        self.G, self.D, self.E = generator, discriminator, encoder if cfg.use_features else None
        self.D_global = global_discriminator if cfg.global_steps else None
        self.vgg = vgg if cfg.use_vgg else None
        self.gan_loss = GANLoss(cfg.gan_mode)
        # What the step calls: the same networks, through the wrapper (if any).
        wrap = wrap or (lambda net, find_unused: net)
        self._run_G = wrap(GeneratorPhases(self.G), self.enhanced)
        self._run_D = wrap(self.D, False)
        self._run_D_global = wrap(self.D_global, False) if self.D_global is not None else None
        self._run_E = wrap(self.E, False) if self.E is not None else None

        extra = list(self.E.parameters()) if self.E is not None else []
        betas = (cfg.beta1, cfg.beta2)

        def adam(params: list[nn.Parameter]) -> torch.optim.Optimizer:
            return make_adam(params, cfg.lr, betas, fused_adam)

        self.modules: dict[str, nn.Module] = {"G": self.G, "D": self.D}
        if self.E is not None:
            self.modules["E"] = self.E
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        stage: dict[str, int] = {}
        if self.enhanced:
            assert isinstance(self.G, LocalEnhancer)
            if cfg.global_steps:
                assert self.D_global is not None
                self.modules["D_global"] = self.D_global
                self.optimizers["G_global"] = adam(list(self.G.global_generator.parameters())
                                                   + extra)
                self.optimizers["D_global"] = adam(list(self.D_global.parameters()))
                stage.update(G_global=1, D_global=1)
            if cfg.fix_global_steps:
                self.optimizers["G_local"] = adam(self.G.enhancer_parameters() + extra)
                stage["G_local"] = 2
            if cfg.steps > cfg.global_steps + cfg.fix_global_steps:
                self.optimizers["G"] = adam(list(self.G.parameters()) + extra)
                stage["G"] = 2
            if cfg.steps > cfg.global_steps:
                self.optimizers["D"] = adam(list(self.D.parameters()))
                stage["D"] = 2
            stage1 = cfg.global_steps
        else:
            self.optimizers = {"G": adam(list(self.G.parameters()) + extra),
                               "D": adam(list(self.D.parameters()))}
            stage, stage1 = {"G": 1, "D": 1}, cfg.steps
        self.schedule = PhaseSchedule(self.optimizers, stage, cfg.lr, cfg.steps, stage1)
        self.schedulers: dict[str, Any] = {"lr": self.schedule}
        device_type = next(self.G.parameters()).device.type
        self._device_type = device_type
        self.scaler = torch.amp.GradScaler(device_type, enabled=cfg.amp == "fp16")

    # -- helpers --------------------------------------------------------------------------
    @property
    def step(self) -> int:
        """Steps done so far (restored with the checkpoint)."""
        return self.schedule.t

    @property
    def phase(self) -> str:
        """The phase of the next step."""
        return self.config.phase(self.step, self.enhanced)

    def _autocast(self):  # type: ignore[no-untyped-def]
        if self.config.amp is None:
            return nullcontext()
        dtype = torch.bfloat16 if self.config.amp == "bf16" else torch.float16
        return torch.autocast(self._device_type, dtype=dtype)

    def labels(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """D's label channels for ``batch``: one-hot classes (+ boundary map)."""
        cfg = self.config
        return discriminator_labels(batch["class_map"], cfg.num_classes,
                                    batch["instance_map"] if cfg.use_boundary else None
                                    ).to(batch["B"].device)

    def features(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor | None:
        """E's instance-averaged features of the real photo, or ``None`` without E (for the
        training step: through the wrapper, so every process must call it)."""
        if self._run_E is None:
            return None
        return self._run_E(batch["B"], batch["instance_map"])

    def _gan(self, preds: list[Any], real: bool, for_d: bool) -> torch.Tensor:
        """GAN loss summed over the scales of a multi-scale D (last map of each scale)."""
        losses = [self.gan_loss(p[-1] if isinstance(p, list) else p, real, for_d) for p in preds]
        return torch.stack(losses).sum()

    def _score(self, preds: list[Any]) -> float:
        """D's mean verdict on the finest scale: sigmoid for vanilla, the raw output else."""
        x = (preds[0][-1] if isinstance(preds[0], list) else preds[0]).detach().float()
        return float((torch.sigmoid(x) if self.config.gan_mode == "vanilla" else x).mean())

    # -- the step -------------------------------------------------------------------------
    def train_step(self, batch: Mapping[str, torch.Tensor]) -> dict[str, float]:
        """One update of D and of G (and E) on ``batch``; returns the losses as floats."""
        cfg = self.config
        phase = self.phase
        G1_frozen = phase == "local"
        if self.enhanced:
            assert isinstance(self.G, LocalEnhancer)
            self.G.global_generator.requires_grad_(not G1_frozen)
        real = batch["B"]
        labels = self.labels(batch)                                  # (N, K+1, H, W)
        if real.is_contiguous(memory_format=torch.channels_last) and real.shape[1] > 1:
            labels = labels.contiguous(memory_format=torch.channels_last)   # like the photo
        with self._autocast():
            feats = self.features(batch)
            g_in = labels if feats is None else torch.cat([labels, feats], 1)
            if self.enhanced and phase == "global":
                assert isinstance(self.G, LocalEnhancer)
                levels = self.G.n_local_enhancers
                fake = self._run_G(g_in, coarse=True)                # (N, 3, H/2^L, W/2^L)
                real = F.avg_pool2d(real, 2 ** levels)               # area down-sampling
                labels = downsample(labels, levels)
                D, opt_G, opt_D = self._run_D_global, self.optimizers["G_global"], \
                    self.optimizers["D_global"]
            else:
                fake = self._run_G(g_in)                             # (N, 3, H, W)
                D = self._run_D
                opt_G = self.optimizers["G_local" if G1_frozen else "G"]
                opt_D = self.optimizers["D"]
            assert D is not None

            # D: real and (detached) fake pairs; gradients now, update after G's.
            D.requires_grad_(True)
            pred_real = D(torch.cat([labels, real], 1), return_features=True)
            pred_fake_d = D(torch.cat([labels, fake.detach()], 1), return_features=True)
            loss_d_real = self._gan(pred_real, True, True)
            loss_d_fake = self._gan(pred_fake_d, False, True)
            loss_d = 0.5 * (loss_d_real + loss_d_fake)
        opt_D.zero_grad(set_to_none=True)
        self.scaler.scale(loss_d).backward()

        D.requires_grad_(False)                                      # G step: D is fixed
        with self._autocast():
            pred_fake = D(torch.cat([labels, fake], 1), return_features=True)
            loss_g_gan = self._gan(pred_fake, True, False)
            loss_g = loss_g_gan
            out = {"loss_D": loss_d.item(), "loss_D_real": loss_d_real.item(),
                   "loss_D_fake": loss_d_fake.item(), "loss_G_GAN": loss_g_gan.item()}
            if cfg.use_feature_matching:
                loss_fm = feature_matching_loss(pred_fake, pred_real)
                loss_g = loss_g + cfg.lambda_feat * loss_fm
                out["loss_G_FM"] = loss_fm.item()
            if self.vgg is not None:
                loss_vgg = self.vgg(fake.float(), real.float())
                loss_g = loss_g + cfg.lambda_vgg * loss_vgg
                out["loss_G_VGG"] = loss_vgg.item()
        opt_G.zero_grad(set_to_none=True)
        self.scaler.scale(loss_g).backward()
        self.scaler.step(opt_G)
        self.scaler.step(opt_D)
        self.scaler.update()
        D.requires_grad_(True)
        if self.enhanced:
            assert isinstance(self.G, LocalEnhancer)
            self.G.global_generator.requires_grad_(True)
        out.update(loss_G=loss_g.item(), D_real=self._score(pred_real),
                   D_fake=self._score(pred_fake_d), phase=float(PHASES.index(phase)))
        return out

    # -- inference ------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, class_map: torch.Tensor, instance_map: torch.Tensor,
                 features: torch.Tensor | None = None, coarse: bool = False) -> torch.Tensor:
        """G's output for label and instance maps (``features``: G's feature channels, e.g.
        from E on a photo or from clusters; required when the model uses features).

        ``coarse=True`` returns G1's own half-resolution output of a LocalEnhancer.
        """
        cfg = self.config
        if cfg.use_features and features is None:
            raise ValueError("this model takes instance features: pass features=E(photo, "
                             "instance_map) or FeatureClusters.feature_map(instance_map)")
        x = discriminator_labels(class_map, cfg.num_classes,
                                 instance_map if cfg.use_boundary else None)
        device = next(self.G.parameters()).device
        x = x.to(device)
        if cfg.use_features:
            assert features is not None
            x = torch.cat([x, features.to(device)], 1)
        if coarse:
            if not isinstance(self.G, LocalEnhancer):
                raise ValueError("coarse=True needs a LocalEnhancer")
            return self.G.coarse(x)
        return self.G(x)

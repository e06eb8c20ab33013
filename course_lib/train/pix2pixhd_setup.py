"""One dataclass that sizes a pix2pixHD run, the paper's presets, and memory estimates.

Wang et al., CVPR 2018, Sec. 4 and the official scripts (NVIDIA/pix2pixHD ``scripts/``):

* ``1024x512`` -- the global generator alone (``train_512p.sh``: ``ngf 64``, 4
  down-samplings, 9 residual blocks; the official default of 2 discriminator scales);
* ``2048x1024`` -- G1 wrapped by one local enhancer (``train_1024p_24G.sh``: ``--netG local
  --ngf 32 --num_D 3 --niter_fix_global 10``, G1 loaded from the 1024x512 run), which the
  official README says needs a GPU with 24 GB.

:class:`HDSetup` holds those choices; :func:`build_pix2pixhd` turns a setup into the
networks and the :class:`~course_lib.train.pix2pixhd.Pix2PixHD` trainer, which is what a
command line or a notebook calls. :func:`estimate_memory` says what a training step needs
on a GPU: parameters, gradients and Adam's two moments (16 bytes per parameter in fp32), plus
the activations autograd keeps for the backward pass, *measured* by running the real networks
on a reduced copy of the input on the CPU with :class:`torch.autograd.graph.saved_tensors_hooks`
and scaled by the pixel ratio (every layer is convolutional, so activations grow with the
pixel count).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Callable

import torch
from torch import nn

from course_lib.models.instance import InstanceEncoder
from course_lib.models.pix2pixhd import (GlobalGenerator, LocalEnhancer,
                                         MultiscaleDiscriminator, max_num_D)
from course_lib.train.pix2pixhd import Pix2PixHD, Pix2PixHDConfig, Wrap

__all__ = ["HDSetup", "PAPER_SETUPS", "build_networks", "build_pix2pixhd", "MemoryEstimate",
           "estimate_memory"]


@dataclass(frozen=True)
class HDSetup:
    """Network sizes and resolution of a pix2pixHD run (defaults: the official ones).

    Attributes:
        height, width: the output resolution (the data's).
        n_local_enhancers: 0 trains G1 alone at ``height x width``; 1 wraps it in one local
            enhancer (G1 then runs at half the resolution).
        ngf: width of the outermost generator (G1's when there is no enhancer; the enhancer's
            otherwise, G1 getting ``ngf * 2**n_local_enhancers``).
        n_downsample_global, n_blocks_global, n_blocks_local: 4, 9 and 3.
        ndf, n_layers_D, num_D: the multi-scale discriminator (64, 3, 3).
        use_boundary, use_features: instance boundary map; instance feature encoder.
        feature_dim, nef, n_downsample_E: the encoder (3, 16, 4).
        norm: ``"instance"``.
        batch_size: 1 in the paper.
    """

    height: int = 1024
    width: int = 2048
    n_local_enhancers: int = 1
    ngf: int = 32
    n_downsample_global: int = 4
    n_blocks_global: int = 9
    n_blocks_local: int = 3
    ndf: int = 64
    n_layers_D: int = 3
    num_D: int = 3
    use_boundary: bool = True
    use_features: bool = False
    feature_dim: int = 3
    nef: int = 16
    n_downsample_E: int = 4
    norm: str = "instance"
    batch_size: int = 1

    @property
    def global_ngf(self) -> int:
        return self.ngf * 2 ** self.n_local_enhancers

    @property
    def global_size(self) -> tuple[int, int]:
        """G1's resolution."""
        f = 2 ** self.n_local_enhancers
        return self.height // f, self.width // f

    def generator_channels(self, num_classes: int) -> int:
        return num_classes + int(self.use_boundary) + (self.feature_dim if self.use_features
                                                       else 0)

    def discriminator_channels(self, num_classes: int) -> int:
        return num_classes + int(self.use_boundary) + 3

    def __post_init__(self) -> None:
        for name, low in (("height", 1), ("width", 1), ("n_local_enhancers", 0), ("ngf", 1),
                          ("n_downsample_global", 1), ("n_blocks_global", 0),
                          ("n_blocks_local", 0), ("ndf", 1), ("n_layers_D", 1), ("num_D", 1),
                          ("feature_dim", 1), ("nef", 1), ("n_downsample_E", 0),
                          ("batch_size", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"HDSetup: {name} must be an int >= {low}, got {v!r}")
        f = 2 ** (self.n_downsample_global + self.n_local_enhancers)
        if self.height % f or self.width % f:
            raise ValueError(
                f"HDSetup: {self.height}x{self.width} is not divisible by {f} = 2**("
                f"n_downsample_global={self.n_downsample_global} + n_local_enhancers="
                f"{self.n_local_enhancers}), as the generator's down- and up-samplings need")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


PAPER_SETUPS: dict[str, HDSetup] = {
    "1024x512": HDSetup(height=512, width=1024, n_local_enhancers=0, ngf=64, num_D=2),
    "2048x1024": HDSetup(height=1024, width=2048, n_local_enhancers=1, ngf=32, num_D=3),
}


def build_networks(setup: HDSetup, num_classes: int, coarse_D: bool = False
                   ) -> dict[str, nn.Module]:
    """``{"G", "D"}`` (+ ``"E"`` with features, + ``"D_global"`` for phase 1 if ``coarse_D``).

    The coarse D of phase 1 works at G1's resolution with ``setup.num_D`` scales less one
    (as the official 1024x512 run has one scale fewer than the 2048x1024 one).
    """
    cin = setup.generator_channels(num_classes)
    G: nn.Module
    if setup.n_local_enhancers == 0:
        G = GlobalGenerator(cin, 3, setup.ngf, setup.n_downsample_global, setup.n_blocks_global,
                            setup.norm)
    else:
        G = LocalEnhancer(cin, 3, setup.ngf, setup.n_downsample_global, setup.n_blocks_global,
                          setup.n_local_enhancers, setup.n_blocks_local, setup.norm)
    din = setup.discriminator_channels(num_classes)
    nets: dict[str, nn.Module] = {
        "G": G, "D": MultiscaleDiscriminator(din, setup.ndf, setup.n_layers_D, setup.num_D,
                                             setup.norm)}
    if setup.use_features:
        nets["E"] = InstanceEncoder(3, setup.feature_dim, setup.nef, setup.n_downsample_E,
                                    setup.norm)
    if coarse_D and setup.n_local_enhancers:
        nets["D_global"] = MultiscaleDiscriminator(din, setup.ndf, setup.n_layers_D,
                                                   max(1, setup.num_D - 1), setup.norm)
    return nets


def build_pix2pixhd(setup: HDSetup, num_classes: int, config: Pix2PixHDConfig | None = None,
                    device: str | torch.device = "cpu", seed: int = 0,
                    global_generator: GlobalGenerator | None = None,
                    convert: Callable[[nn.Module], nn.Module] | None = None,
                    wrap: Wrap | None = None, fused_adam: bool = False) -> Pix2PixHD:
    """The trainer of a run: networks from ``setup`` (seeded), moved to ``device``.

    Args:
        setup: the sizes (e.g. ``PAPER_SETUPS["2048x1024"]``).
        num_classes: label classes (35 for Cityscapes).
        config: training settings; ``num_classes``, ``use_boundary`` and ``use_features`` are
            taken from ``setup`` and the argument.
        device: where to train.
        seed: seeds the initial weights.
        global_generator: a trained G1 to wrap in the enhancer (the official recipe trains it
            as its own 1024x512 run first); then ``config.global_steps`` should be 0.
        convert: applied to every network on ``device`` before its optimizer is made (the
            command line: :func:`~course_lib.train.distributed.sync_batch_norm` under
            torchrun, which changes nothing in pix2pixHD's instance-norm networks).
        wrap: passed to :class:`~course_lib.train.pix2pixhd.Pix2PixHD` (DDP under torchrun).
        fused_adam: fused Adam kernels (speed only; :func:`~course_lib.train.optim.adam`).

    A command line uses it as ``model = build_pix2pixhd(...)`` and trains
    ``model.train_step`` with ``model.modules``, ``model.optimizers`` and
    ``model.schedulers`` in a :class:`~course_lib.train.engine.TrainingLoop`.
    """
    cfg = replace(config or Pix2PixHDConfig(), num_classes=num_classes,
                  use_boundary=setup.use_boundary, use_features=setup.use_features)
    torch.manual_seed(seed)
    nets = build_networks(setup, num_classes, coarse_D=cfg.global_steps > 0)
    if global_generator is not None:
        if setup.n_local_enhancers == 0:
            raise ValueError("global_generator= is for a setup with a local enhancer")
        G = nets["G"]
        assert isinstance(G, LocalEnhancer)
        G.global_generator.load_state_dict(global_generator.state_dict())
    for key, net in nets.items():
        net.to(device)
        if convert is not None:
            nets[key] = convert(net)
    return Pix2PixHD(nets["G"], nets["D"], cfg, encoder=nets.get("E"),
                     global_discriminator=nets.get("D_global"), wrap=wrap,
                     fused_adam=fused_adam)


@dataclass(frozen=True)
class MemoryEstimate:
    """GPU memory of one training step of a setup (bytes; see :func:`estimate_memory`)."""

    setup: HDSetup
    parameters: int
    states: int
    activations: int
    phase: str
    amp: str | None
    gradient_checkpointing: bool
    vgg: bool = False

    @property
    def total(self) -> int:
        return self.states + self.activations

    def __str__(self) -> str:
        gib = 2 ** 30
        amp = self.amp or "fp32"
        ckpt = ", checkpointed G1 blocks" if self.gradient_checkpointing else ""
        ckpt += ", + VGG loss" if self.vgg else ""
        return (f"{self.setup.width}x{self.setup.height} ({self.phase} phase, {amp}{ckpt}): "
                f"{self.parameters / 1e6:.1f} M parameters -> {self.states / gib:.1f} GiB "
                f"weights+grads+Adam, {self.activations / gib:.1f} GiB activations, "
                f"~{self.total / gib:.1f} GiB in all")


def _saved_bytes(fn: Any, exclude: set[int]) -> int:
    """Bytes of the distinct storages autograd saves while ``fn()`` runs, leaving out the
    storages in ``exclude`` (the parameters, which are not activations)."""
    storages: dict[int, int] = {}
    keep: list[torch.Tensor] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        s = t.untyped_storage()
        if s.data_ptr() not in exclude:
            storages[s.data_ptr()] = s.nbytes()
        keep.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    del out, keep
    return sum(storages.values())


def _extrapolated(measure: Any, f: int, pixels: int, base_pixels: int) -> int:
    """Saved bytes at ``pixels`` from measurements at two probe sizes: a part that grows with
    the pixel count (activations) plus a constant part (e.g. bf16 copies of the weights under
    autocast), fitted through the probes at ``1/f`` and ``1/(2f)`` of the size (or ``1/f``
    alone when ``f`` is 1)."""
    big = measure(f)
    if f < 2:
        return big
    small = measure(2 * f) if 2 * f <= 64 else None
    if small is None:
        return big * f * f
    p_big, p_small = base_pixels / (f * f), base_pixels / (4 * f * f)
    slope = (big - small) / (p_big - p_small)
    return int(max(0.0, big - slope * p_big) + slope * pixels)


def estimate_memory(setup: HDSetup, num_classes: int = 35, phase: str = "joint",
                    amp: str | None = None, gradient_checkpointing: bool = False,
                    probe_factor: int = 8, vgg: bool = False) -> MemoryEstimate:
    """Estimate the GPU memory of one training step of ``setup`` (batch ``setup.batch_size``).

    * weights, gradients and Adam's two moments: 16 bytes per trained parameter (fp32
      master weights also under AMP);
    * activations: the bytes autograd saves for the backward pass in G's forward plus two
      D passes (D's real and fake-detached passes are freed by D's backward before the fake
      pass of G's step), measured on the CPU at ``1/probe_factor`` of the height and width
      at ``1/(2 probe_factor)``, and extrapolated linearly in the pixel count (a smaller
      factor where the networks need a larger input: D's coarsest scale, G's bottleneck).
      Parameters saved for the backward pass are not counted there (they are in the 16 bytes);
      bf16 copies of the weights under autocast are, once. ``amp="bf16"`` measures under bf16 autocast.

    ``vgg=True`` adds the VGG perceptual loss (on by default in the official code): VGG19's
    activations on the generated image, kept for the backward pass into G.

    ``phase``: ``"joint"`` (everything trains), ``"local"`` (G1 frozen: it saves nothing and
    has no gradients or Adam states) or ``"global"`` (G1 alone at its resolution).
    Not included: the CUDA context (~0.5 GiB), the allocator's fragmentation and cuDNN
    workspaces, usually 10-30 % more in practice.
    """
    if phase not in ("global", "local", "joint"):
        raise ValueError(f"phase={phase!r}: use 'global', 'local' or 'joint'")
    if amp not in (None, "bf16"):
        raise ValueError("amp must be None or 'bf16' for the estimate")
    nets = build_networks(setup, num_classes)
    G, D, E = nets["G"], nets["D"], nets.get("E")
    f = probe_factor
    h, w = setup.height, setup.width
    if phase == "global" and isinstance(G, LocalEnhancer):
        G = G.global_generator
        h, w = setup.global_size
        D = MultiscaleDiscriminator(setup.discriminator_channels(num_classes), setup.ndf,
                                    setup.n_layers_D, max(1, setup.num_D - 1), setup.norm)
    factor = 2 ** (setup.n_downsample_global + setup.n_local_enhancers)
    if phase == "global":
        factor = 2 ** setup.n_downsample_global
    # The probe must stay valid: sides divisible by G's factor with a bottleneck of >= 2 px,
    # and large enough for every D scale. Each network gets the largest such factor <= f.
    fg = f
    while fg > 1 and (h % (fg * factor) or w % (fg * factor) or h // (fg * factor) < 2):
        fg //= 2
    fd = f
    while fd > 1 and max_num_D(h // fd, w // fd, setup.n_layers_D) < D.num_D:
        fd //= 2
    if h % factor or w % factor:
        raise ValueError(f"{h}x{w} is not divisible by {factor}, as the generator needs")
    trained = [G, D] + ([E] if E is not None else [])
    if phase == "local" and isinstance(G, LocalEnhancer):
        G.global_generator.requires_grad_(False)
    if isinstance(G, GlobalGenerator):
        G.gradient_checkpointing = gradient_checkpointing
    elif isinstance(G, LocalEnhancer):
        G.global_generator.gradient_checkpointing = gradient_checkpointing
    n_params = sum(p.numel() for net in trained for p in net.parameters() if p.requires_grad)
    if isinstance(G, LocalEnhancer):   # G1's head is not used by the enhanced forward
        n_params -= sum(p.numel() for p in G.global_generator.head.parameters()
                        if p.requires_grad)
    b = setup.batch_size
    cin = setup.generator_channels(num_classes)
    din = setup.discriminator_channels(num_classes)
    params = {p.untyped_storage().data_ptr() for net in (G, D, E) if net is not None
              for p in net.parameters()}
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if amp == "bf16" else \
        torch.autocast("cpu", enabled=False)

    def g_bytes(k: int) -> int:
        x = torch.rand(b, cin, h // k, w // k)
        total = _saved_bytes(lambda: G(x), params)
        if E is not None:
            total += _saved_bytes(lambda: E(torch.rand(b, 3, h // k, w // k),
                                            torch.zeros(b, h // k, w // k, dtype=torch.long)),
                                  params)
        return total

    def d_bytes(k: int) -> int:
        return _saved_bytes(lambda: D(torch.rand(b, din, h // k, w // k),
                                      return_features=True), params)

    def valid_g(k: int) -> bool:
        return h % (k * factor) == 0 and w % (k * factor) == 0 and h // (k * factor) >= 2

    def valid_d(k: int) -> bool:
        return max_num_D(h // k, w // k, setup.n_layers_D) >= D.num_D

    with ctx:
        gf = fg if valid_g(2 * fg) else max(1, fg // 2) if fg > 1 else 1
        df = fd if valid_d(2 * fd) else max(1, fd // 2) if fd > 1 else 1
        activations = _extrapolated(g_bytes, gf, h * w, h * w) + \
            2 * _extrapolated(d_bytes, df, h * w, h * w)
        if vgg:
            from course_lib.losses import VGGPerceptualLoss, vgg19_features

            loss = VGGPerceptualLoss(vgg19_features())
            params |= {p.untyped_storage().data_ptr() for p in loss.parameters()}

            def v_bytes(k: int) -> int:
                fake = torch.rand(b, 3, h // k, w // k, requires_grad=True)
                return _saved_bytes(lambda: loss(fake, torch.rand(b, 3, h // k, w // k)),
                                    params)

            activations += _extrapolated(v_bytes, gf, h * w, h * w)
    return MemoryEstimate(setup=setup, parameters=n_params, states=16 * n_params,
                          activations=activations, phase=phase, amp=amp,
                          gradient_checkpointing=gradient_checkpointing, vgg=vgg)

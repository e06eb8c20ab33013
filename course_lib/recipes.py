"""The models the command line trains: one *recipe* per paper, in a small registry.

A recipe knows its paper's defaults and how to

* add its own options to ``python -m course_lib train MODEL`` (:meth:`Recipe.add_arguments`),
* build the networks, optimizers, schedulers and the one-step function the training loop runs
  (:meth:`Recipe.build`, returning a :class:`Trainer`), ready for several processes,
* rebuild the generator from a checkpoint and translate inputs with it (``evaluate``,
  ``sample``), and evaluate its outputs.

Everything around a recipe -- data, run folder, torchrun, checkpoints, sample grids, the final
metrics -- is shared (:mod:`course_lib.runner`). A recipe whose model lives in a module that is
not part of this checkout (the course grows notebook by notebook) is still listed, and says so
clearly when used (:class:`ModelUnavailable`).

* ``pix2pix`` -- Isola et al., CVPR 2017: U-Net generator (Appendix 6.1.1), 70x70 PatchGAN
  (Sec. 3.2.2), L1 + cGAN with lambda = 100 (Eq. 4), Adam lr 2e-4, betas (0.5, 0.999), batch
  norm, dropout in the decoder, constant then linearly decaying learning rate (Sec. 6.2).
* ``pix2pixhd`` -- Wang et al., CVPR 2018 (:mod:`course_lib.train.pix2pixhd`).
* ``bicyclegan`` -- Zhu et al., NeurIPS 2017 (:mod:`course_lib.train.bicyclegan`, networks of
  :mod:`course_lib.experiment_bicyclegan`).

pix2pixHD's recipe is registered but not wired yet (its networks take label and instance maps
and train in phases); ``train pix2pixhd`` says so.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Mapping

import torch
from torch import nn

from course_lib.data.resolve import DataChoice
from course_lib.train.distributed import DistributedContext, sync_batch_norm, wrap_ddp

__all__ = ["ModelUnavailable", "TrainSettings", "Trainer", "Recipe", "Pix2PixRecipe",
           "RECIPES", "get_recipe", "unet_levels", "translation_metrics"]


class ModelUnavailable(RuntimeError):
    """The model's modules are not part of this installation of course_lib."""


@dataclass(frozen=True)
class TrainSettings:
    """The options every model shares (from the command line)."""

    steps: int
    batch_size: int
    seed: int = 0
    amp: str | None = None
    channels_last: bool = False
    compile: bool = False
    sync_bn: bool = True


@dataclass
class Trainer:
    """What the training loop needs from a model.

    Attributes:
        step: ``step(batch) -> {name: number}``; does one full update (all networks).
        modules, optimizers, schedulers: by name, saved in the checkpoint.
        model_configs: constructor arguments of each network (saved beside its weights).
        generator: the key of the network that translates (``"G"``).
        model: the model object itself (e.g. :class:`~course_lib.train.pix2pix.Pix2Pix`).
    """

    step: Callable[[Mapping[str, Any]], Mapping[str, float]]
    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    schedulers: dict[str, Any]
    model_configs: dict[str, dict[str, Any]]
    generator: str = "G"
    model: Any = None


def unet_levels(height: int, width: int, most: int = 8) -> int:
    """U-Net depth for an image: the largest ``n <= most`` with ``2**n`` dividing both sides.

    pix2pix uses 8 levels at 256x256 (down to 1x1, Appendix 6.1.1); 64 px gives 6 levels.
    """
    n = 0
    while n < most and height % 2 ** (n + 1) == 0 and width % 2 ** (n + 1) == 0 \
            and 2 ** (n + 1) <= min(height, width):
        n += 1
    if n < 2:
        raise ValueError(f"images of {height}x{width} (HxW) allow only {n} U-Net level(s): use "
                         "an --image-size that is a multiple of 4 (256 as in the paper)")
    return n


def _json_number(value: float) -> float | None:
    return None if value != value or value in (float("inf"), float("-inf")) else float(value)


def translation_metrics(generator: nn.Module, val: Any, data: DataChoice, *, test_mode: str,
                        batch_size: int, seed: int = 0, n: int | None = None,
                        segmenter: Any = None, draws: int = 4) -> dict[str, Any]:
    """Evaluate a one-to-one translation generator on validation pairs.

    FCN-score (pix2pix Sec. 4.2) when a segmenter and class maps are there; L1, PSNR and SSIM
    against the targets; sharpness and colour-spread ratios (1 = as real photos); and the
    diversity of ``draws`` outputs per input (the mean pairwise L1 over dropout draws in the
    paper's test mode; BicycleGAN Sec. 4 measures diversity the same way with LPIPS).
    """
    from course_lib.experiment import _stacked, evaluate_generator, generate
    from course_lib.metrics import diversity, psnr, ssim

    pairs = _stacked(val, n)
    ev = evaluate_generator(generator, pairs, segmenter, test_mode, batch_size, seed=seed)
    assert ev.fake is not None
    real = pairs["B"].float().cpu()
    out: dict[str, Any] = {"pairs": ev.count, "test_mode": test_mode}
    out.update({k: _json_number(v) for k, v in ev.as_dict().items()})
    out["psnr"] = _json_number(float(psnr(ev.fake, real)))
    if min(real.shape[-2:]) >= 11:
        out["ssim"] = _json_number(float(ssim(ev.fake, real)))
    if draws >= 2:
        m = min(8, ev.count)
        outs = torch.stack([generate(generator, pairs["A"][:m], test_mode, min(batch_size, m),
                                     seed=seed + 1 + s) for s in range(draws)], dim=1)
        out["diversity"] = _json_number(diversity(outs))   # (m, draws, C, H, W)
    return out


class Recipe:
    """One model of the registry (see the module docstring). Subclasses set the class
    attributes and implement the methods; :meth:`check_available` guards optional modules."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()
    default_test_mode: ClassVar[str] = "eval"

    def check_available(self) -> None:
        """Raise :class:`ModelUnavailable` if a module this model needs is missing."""
        missing = [m for m in self.requires if importlib.util.find_spec(m) is None]
        if missing:
            raise ModelUnavailable(
                f"{self.title} is not part of this course_lib yet: {', '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} missing. Update the course "
                f"(git pull) or train another model: "
                f"{', '.join(r for r in RECIPES if r != self.name)}")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add the model's own options, with the paper's defaults."""

    def hyperparameters(self, args: argparse.Namespace) -> dict[str, Any]:
        """The model's options from the parsed arguments, as JSON-able values."""
        return {}

    def default_hyperparameters(self) -> dict[str, Any]:
        """The model's options when none is given on the command line."""
        parser = argparse.ArgumentParser(add_help=False)
        self.add_arguments(parser)
        return self.hyperparameters(parser.parse_args([]))

    def build(self, hp: Mapping[str, Any], data: DataChoice, ctx: DistributedContext,
              settings: TrainSettings) -> Trainer:
        raise NotImplementedError

    def generator_from_state(self, state: Mapping[str, Any]) -> nn.Module:
        """Rebuild the generator from a checkpoint (weights and constructor arguments)."""
        raise NotImplementedError

    def translate(self, generator: nn.Module, inputs: torch.Tensor, test_mode: str,
                  batch_size: int, seed: int = 0) -> torch.Tensor:
        """Outputs ``(N, 3, H, W)`` in [-1, 1] on the CPU for inputs ``(N, C, H, W)``."""
        from course_lib.experiment import generate

        return generate(generator, inputs, test_mode, batch_size, seed)  # type: ignore[arg-type]

    def evaluate(self, generator: nn.Module, val: Any, data: DataChoice, *, test_mode: str,
                 batch_size: int, seed: int = 0, n: int | None = None,
                 segmenter: Any = None) -> dict[str, Any]:
        return translation_metrics(generator, val, data, test_mode=test_mode,
                                   batch_size=batch_size, seed=seed, n=n, segmenter=segmenter)


def _load_generator(cls: type[nn.Module], state: Mapping[str, Any], key: str = "G") -> nn.Module:
    from course_lib.train.checkpoint import clean_state_dict

    configs = state.get("model_configs", {})
    if key not in configs or key not in state.get("models", {}):
        raise KeyError(f"the checkpoint has no generator {key!r} (it has "
                       f"{sorted(state.get('models', {}))}); was it written by this model?")
    G = cls(**configs[key])
    G.load_state_dict(clean_state_dict(state["models"][key]))
    return G


class Pix2PixRecipe(Recipe):
    """pix2pix (Isola et al., CVPR 2017) with the paper's defaults (see the module docstring)."""

    name = "pix2pix"
    title = "pix2pix (Isola et al., CVPR 2017)"
    paper = ("U-Net G + 70x70 PatchGAN D, L1 + cGAN (lambda 100), Adam 2e-4 (0.5, 0.999), "
             "batch norm, batch 1, 256 px, lr constant then linear to zero")
    default_test_mode = "paper"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        g = parser.add_argument_group("pix2pix (defaults: the paper's)")
        g.add_argument("--ngf", type=int, default=None,
                       help="generator width (paper 64; default: the profile's, else 64)")
        g.add_argument("--ndf", type=int, default=None,
                       help="discriminator width (paper 64; default: the profile's, else 64)")
        g.add_argument("--n-layers-d", type=int, default=3, metavar="N",
                       help="PatchGAN depth: 3 = 70x70 patches (paper), 1 = 16x16, "
                            "4 = 142x142 (default: %(default)s)")
        g.add_argument("--norm", choices=("batch", "instance"), default="batch",
                       help="normalisation in G and D (paper: batch; default: %(default)s)")
        g.add_argument("--no-dropout", action="store_true",
                       help="no dropout in the decoder (the paper keeps it, as its noise)")
        g.add_argument("--lambda-l1", type=float, default=100.0, metavar="L",
                       help="weight of the L1 term, Eq. 4 (default: %(default)s)")
        g.add_argument("--gan-mode", choices=("vanilla", "lsgan", "hinge"), default="vanilla",
                       help="GAN loss (paper: vanilla; default: %(default)s)")
        g.add_argument("--lr", type=float, default=2e-4,
                       help="Adam learning rate of G and D (default: %(default)s)")
        g.add_argument("--beta1", type=float, default=0.5,
                       help="Adam beta1 (default: %(default)s)")

    def hyperparameters(self, args: argparse.Namespace) -> dict[str, Any]:
        return {"ngf": args.ngf, "ndf": args.ndf, "n_layers_d": args.n_layers_d,
                "norm": args.norm, "dropout": not args.no_dropout, "lambda_l1": args.lambda_l1,
                "gan_mode": args.gan_mode, "lr": args.lr, "beta1": args.beta1, "beta2": 0.999}

    def build(self, hp: Mapping[str, Any], data: DataChoice, ctx: DistributedContext,
              settings: TrainSettings) -> Trainer:
        from course_lib.models import PatchDiscriminator, UNetGenerator
        from course_lib.train.pix2pix import Pix2Pix, Pix2PixConfig

        probe = data.train[0]
        c_in, c_out = int(probe["A"].shape[0]), int(probe["B"].shape[0])
        h, w = data.size
        torch.manual_seed(settings.seed)     # the same initial weights on every process
        G: nn.Module = UNetGenerator(in_channels=c_in, out_channels=c_out,
                                     num_downs=unet_levels(h, w), ngf=int(hp["ngf"]),
                                     norm=hp["norm"], use_dropout=bool(hp["dropout"]))
        D: nn.Module = PatchDiscriminator(c_in + c_out, ndf=int(hp["ndf"]),
                                          n_layers=int(hp["n_layers_d"]), norm=hp["norm"])
        configs = {"G": dict(G.config), "D": dict(D.config)}  # type: ignore[arg-type]
        nets = {}
        for key, net in (("G", G), ("D", D)):
            net = net.to(ctx.device)
            if settings.channels_last:
                net = net.to(memory_format=torch.channels_last)
            if settings.sync_bn:
                net = sync_batch_norm(net, ctx)
            if settings.compile:
                net = torch.compile(net)  # type: ignore[assignment]
            nets[key] = wrap_ddp(net, ctx)
        model = Pix2Pix(nets["G"], nets["D"], Pix2PixConfig(
            lambda_l1=float(hp["lambda_l1"]), gan_mode=hp["gan_mode"], lr=float(hp["lr"]),
            beta1=float(hp["beta1"]), beta2=float(hp["beta2"]), steps=settings.steps,
            amp=settings.amp))  # type: ignore[arg-type]
        return Trainer(step=model.train_step, modules=model.modules,
                       optimizers=model.optimizers, schedulers=model.schedulers,
                       model_configs=configs, model=model)

    def generator_from_state(self, state: Mapping[str, Any]) -> nn.Module:
        from course_lib.models import UNetGenerator

        return _load_generator(UNetGenerator, state)


class _PlannedRecipe(Recipe):
    """A model whose training module is added by a later part of the course."""

    def build(self, hp: Mapping[str, Any], data: DataChoice, ctx: DistributedContext,
              settings: TrainSettings) -> Trainer:
        self.check_available()
        raise ModelUnavailable(f"{self.title}: the command line does not know this version of "
                               f"{', '.join(self.requires)} yet; use the notebook's helper "
                               "(course_lib.experiment_*) meanwhile")

    def generator_from_state(self, state: Mapping[str, Any]) -> nn.Module:
        self.check_available()
        raise ModelUnavailable(f"{self.title}: rebuilding its generator from a checkpoint is "
                               "not wired into the command line yet")


class Pix2PixHDRecipe(_PlannedRecipe):
    name = "pix2pixhd"
    title = "pix2pixHD (Wang et al., CVPR 2018)"
    paper = ("global generator + local enhancer, 3 multi-scale PatchGANs, LSGAN + feature "
             "matching (lambda 10), instance norm, instance boundary maps")
    requires = ("course_lib.models.pix2pixhd", "course_lib.train.pix2pixhd")


class BicycleGANRecipe(Recipe):
    """BicycleGAN (Zhu et al., NeurIPS 2017, Sec. 3.3-3.4 and the official defaults): G(A, z)
    a U-Net with z added to every encoder level, a ResNet encoder E, two two-scale PatchGANs,
    LSGAN, nz = 8, lambda_L1 = 10, lambda_latent = 0.5, lambda_KL = 0.01; the networks of
    :func:`course_lib.experiment_bicyclegan.default_bicycle_networks`, the step of
    :class:`course_lib.train.bicyclegan.BicycleGAN`. Outputs for samples and metrics draw z
    from N(0, I); ``sample --num K`` draws K codes per input."""

    name = "bicyclegan"
    title = "BicycleGAN (Zhu et al., NeurIPS 2017)"
    paper = ("cVAE-GAN + cLR-GAN: U-Net G with z injected, ResNet encoder E, two PatchGANs, "
             "nz 8, lambda_img 10, lambda_latent 0.5, lambda_KL 0.01")
    requires = ("course_lib.models.bicyclegan", "course_lib.train.bicyclegan",
                "course_lib.experiment_bicyclegan")
    default_test_mode = "eval"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        g = parser.add_argument_group("BicycleGAN (defaults: the paper's / official code's)")
        g.add_argument("--ngf", type=int, default=None, help="G and E width (paper 64)")
        g.add_argument("--ndf", type=int, default=None, help="D width (paper 64)")
        g.add_argument("--variant", choices=("bicyclegan", "cvae-gan", "clr-gan",
                                             "pix2pix+noise"), default="bicyclegan",
                       help="the hybrid or one of its baselines (default: %(default)s)")
        g.add_argument("--nz", type=int, default=8, help="latent size (default: %(default)s)")
        g.add_argument("--where-add", choices=("all", "input"), default="all",
                       help="inject z into every encoder level or only the input "
                            "(default: %(default)s)")
        g.add_argument("--lambda-l1", type=float, default=10.0, metavar="L",
                       help="image reconstruction weight (default: %(default)s)")
        g.add_argument("--lambda-kl", type=float, default=0.01, metavar="L",
                       help="KL weight (default: %(default)s)")
        g.add_argument("--lambda-latent", type=float, default=0.5, metavar="L",
                       help="latent regression weight (default: %(default)s)")
        g.add_argument("--lr", type=float, default=2e-4, help="Adam learning rate")

    def hyperparameters(self, args: argparse.Namespace) -> dict[str, Any]:
        return {"ngf": args.ngf, "ndf": args.ndf, "variant": args.variant, "nz": args.nz,
                "where_add": args.where_add, "lambda_l1": args.lambda_l1,
                "lambda_kl": args.lambda_kl, "lambda_latent": args.lambda_latent,
                "lr": args.lr}

    def build(self, hp: Mapping[str, Any], data: DataChoice, ctx: DistributedContext,
              settings: TrainSettings) -> Trainer:
        from dataclasses import replace as dc_replace

        from course_lib.experiment_bicyclegan import default_bicycle_networks
        from course_lib.profiles import PROFILES
        from course_lib.train.bicyclegan import BicycleGAN, BicycleGANConfig

        if ctx.distributed:
            raise ModelUnavailable(
                "BicycleGAN under torchrun is not supported by the command line yet (its "
                "trainer reads attributes such as G.nz of the bare networks, which DDP hides; "
                "this path is untested): train it in one process")
        h, w = data.size
        probe = data.train[0]
        P = dc_replace(PROFILES["gpu"], image_size=min(h, w), ngf=int(hp["ngf"]),
                       ndf=int(hp["ndf"]))
        torch.manual_seed(settings.seed)
        nets = default_bicycle_networks(P, variant=hp["variant"], where_add=hp["where_add"],
                                        nz=int(hp["nz"]),
                                        in_channels=int(probe["A"].shape[0]),
                                        out_channels=int(probe["B"].shape[0]))
        if unet_levels(h, w) < P.unet_downs:
            raise ValueError(f"BicycleGAN's U-Net needs sides divisible by {2 ** P.unet_downs}; "
                             f"the images are {h}x{w}")
        configs = {k: dict(getattr(m, "config", {})) for k, m in nets.items() if m is not None}
        wrapped: dict[str, nn.Module | None] = {}   # (one process: wrap_ddp returns the net)
        for key, net in nets.items():
            if net is None:
                wrapped[key] = None
                continue
            net = net.to(ctx.device)
            if settings.channels_last:
                net = net.to(memory_format=torch.channels_last)
            if settings.compile:
                net = torch.compile(net)  # type: ignore[assignment]
            wrapped[key] = wrap_ddp(net, ctx)
        cfg = BicycleGANConfig(variant=hp["variant"], lambda_l1=float(hp["lambda_l1"]),
                               lambda_kl=float(hp["lambda_kl"]),
                               lambda_latent=float(hp["lambda_latent"]), lr=float(hp["lr"]),
                               steps=settings.steps)
        model = BicycleGAN(wrapped["G"], wrapped["E"], wrapped["D"],  # type: ignore[arg-type]
                           wrapped["D2"], cfg)
        return Trainer(step=model.train_step, modules=model.modules,
                       optimizers=model.optimizers, schedulers=model.schedulers,
                       model_configs={k: v for k, v in configs.items() if k in model.modules},
                       model=model)

    def generator_from_state(self, state: Mapping[str, Any]) -> nn.Module:
        from course_lib.models.bicyclegan import LatentUNetGenerator

        return _load_generator(LatentUNetGenerator, state)

    def translate(self, generator: nn.Module, inputs: torch.Tensor, test_mode: str,
                  batch_size: int, seed: int = 0) -> torch.Tensor:
        from course_lib.experiment_bicyclegan import sample_outputs

        return sample_outputs(generator, inputs, num_z=1, seed=seed, batch_size=batch_size)[:, 0]

    def evaluate(self, generator: nn.Module, val: Any, data: DataChoice, *, test_mode: str,
                 batch_size: int, seed: int = 0, n: int | None = None,
                 segmenter: Any = None) -> dict[str, Any]:
        """L1/PSNR/SSIM of one random-z output per input against the target (a multimodal
        model is not meant to match it), the diversity over 12 codes per input, and, on the
        procedural shapes, the mode coverage (BicycleGAN Sec. 4)."""
        from course_lib.experiment import _stacked
        from course_lib.experiment_bicyclegan import evaluate_multimodal, sample_outputs
        from course_lib.metrics import diversity, psnr, ssim

        pairs = _stacked(val, n)
        outs = sample_outputs(generator, pairs["A"], num_z=12, seed=seed,
                              batch_size=max(batch_size, 16))          # (N, 12, C, H, W)
        real = pairs["B"].float()
        first = outs[:, 0]
        out: dict[str, Any] = {"pairs": int(real.shape[0]), "num_z": 12,
                               "l1": float((first - real).abs().mean()),
                               "psnr": _json_number(float(psnr(first, real))),
                               "diversity": _json_number(diversity(outs))}
        if min(real.shape[-2:]) >= 11:
            out["ssim"] = _json_number(float(ssim(first, real)))
        if data.dataset_name == "shapes" and "class_map" in pairs:
            ev = evaluate_multimodal(generator, val, n=n, seed=seed, keep_images=False)
            out.update({k: _json_number(float(v)) for k, v in ev.as_dict().items()
                        if k != "diversity"})
        return out


RECIPES: dict[str, Recipe] = {r.name: r for r in (Pix2PixRecipe(), Pix2PixHDRecipe(),
                                                  BicycleGANRecipe())}


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name`` (``pix2pix``, ``pix2pixhd``, ``bicyclegan``)."""
    key = name.strip().lower()
    if key not in RECIPES:
        raise ValueError(f"unknown model {name!r}: choose from {', '.join(RECIPES)}")
    return RECIPES[key]

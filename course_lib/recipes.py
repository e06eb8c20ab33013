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
* ``pix2pixhd`` -- Wang et al., CVPR 2018 (:mod:`course_lib.train.pix2pixhd`, sizes of
  :mod:`course_lib.train.pix2pixhd_setup`): the official 512p / 1024p presets, coarse-to-fine
  phases, on the procedural street scenes (label + instance maps).
* ``bicyclegan`` -- Zhu et al., NeurIPS 2017 (:mod:`course_lib.train.bicyclegan`, networks of
  :mod:`course_lib.experiment_bicyclegan`).

A recipe may also restrict the data (:meth:`Recipe.check_data`), set size defaults of its own
(:meth:`Recipe.default_sizes`, e.g. pix2pixHD's 2:1 presets) and fill in options that depend on
the run's length (:meth:`Recipe.complete_hyperparameters`, e.g. pix2pixHD's phase lengths).
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
           "Pix2PixHDRecipe", "BicycleGANRecipe", "RECIPES", "get_recipe", "unet_levels", "translation_metrics"]


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
        generator_view: turns the bare generator into what :meth:`Recipe.translate_pairs`
            and :meth:`Recipe.evaluate` take (``None``: the generator itself), i.e. what
            :meth:`Recipe.generator_from_state` returns.
        rank_streams: under torchrun, each process draws its own random numbers (pix2pix's
            dropout masks); ``False`` keeps the random state identical on every process, for
            a step that draws for the global batch and takes its slice (BicycleGAN's z).
    """

    step: Callable[[Mapping[str, Any]], Mapping[str, float]]
    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    schedulers: dict[str, Any]
    model_configs: dict[str, dict[str, Any]]
    generator: str = "G"
    model: Any = None
    generator_view: Callable[[nn.Module], nn.Module] | None = None
    rank_streams: bool = True


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

    def check_data(self, data: str) -> None:
        """Raise ``ValueError`` (saying what is supported) if ``--data`` cannot train this
        model; called before the data is resolved. Default: anything."""

    def default_sizes(self, hp: Mapping[str, Any], profile: str | None) -> dict[str, Any]:
        """Overrides of the shared size defaults (``image_size``, ``ngf``, ``ndf``,
        ``batch_size``, ``epochs``, ...) for options ``hp`` and ``profile``; explicit
        command-line sizes still win. Default: none."""
        return {}

    def complete_hyperparameters(self, hp: Mapping[str, Any], *, profile: str | None,
                                 steps: int, size: tuple[int, int]) -> dict[str, Any]:
        """``hp`` with the options left to defaults that depend on the run filled in (the
        result is what ``config.json`` records). Default: ``hp`` unchanged."""
        return dict(hp)

    def batch_groups(self, hp: Mapping[str, Any]) -> int:
        """Parts of every batch that the step uses differently (default 1). The global batch
        must be a multiple of this times the number of processes, and under torchrun each
        process takes its share of every part
        (:class:`~course_lib.train.sampling.ShardedStepBatchSampler`)."""
        return 1

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

    def translate_pairs(self, generator: nn.Module, pairs: Mapping[str, torch.Tensor],
                        test_mode: str, batch_size: int, seed: int = 0) -> torch.Tensor:
        """Outputs for stacked validation items (``"A"`` and any other keys, such as the
        label and instance maps); default: :meth:`translate` of ``pairs["A"]``."""
        return self.translate(generator, pairs["A"], test_mode, batch_size, seed)

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


class _LabelsToPhoto(nn.Module):
    """pix2pixHD's generator as the command line uses it: ``(class_map, instance_map) ->
    photo``, building G's input (one-hot classes + the instance boundary map, Sec. 3.3) from
    the two maps. ``colors_to_classes`` inverts the streets' colour coding for ``sample``."""

    def __init__(self, G: nn.Module, num_classes: int, use_boundary: bool) -> None:
        super().__init__()
        self.G, self.num_classes, self.use_boundary = G, int(num_classes), bool(use_boundary)

    def forward(self, class_map: torch.Tensor, instance_map: torch.Tensor) -> torch.Tensor:
        from course_lib.models.instance import generator_input

        device = next(self.G.parameters()).device
        x = generator_input(class_map.long(), self.num_classes,
                            instance_map.long() if self.use_boundary else None)
        return self.G(x.to(device))

    @staticmethod
    def colors_to_classes(images: torch.Tensor) -> torch.Tensor:
        from course_lib.data.streets import SyntheticStreets

        return SyntheticStreets.labels_from_colors(images.float().cpu())


def _hd_maps(pairs: Any, n: int | None = None) -> dict[str, torch.Tensor]:
    """``{"B", "class_map", "instance_map"}`` of a dataset (or dict of stacks) as stacks."""
    from course_lib.data.cache import InMemoryPairs

    keys = ("A", "B", "class_map", "instance_map")
    if isinstance(pairs, Mapping):
        out = {k: pairs[k] for k in keys if k in pairs}
    else:
        if not isinstance(pairs, InMemoryPairs):
            pairs = InMemoryPairs(pairs, n, exact=True, progress=False)
        out = {k: pairs.stacked(k) for k in keys if k in pairs.keys()}  # type: ignore[misc]
    missing = {"B", "class_map", "instance_map"} - set(out)
    if missing:
        raise ValueError(f"pix2pixHD needs 'B', 'class_map' and 'instance_map'; the data lacks "
                         f"{sorted(missing)} (use --data streets)")
    return {k: v[:n] for k, v in out.items()} if n is not None else out  # type: ignore[misc]


@torch.no_grad()
def _hd_generate(generator: nn.Module, class_map: torch.Tensor, instance_map: torch.Tensor,
                 batch_size: int) -> torch.Tensor:
    """Outputs of a :class:`_LabelsToPhoto` in eval mode (instance norm keeps no running
    statistics, so the mode changes nothing; there is no dropout), on the CPU."""
    was = generator.training
    generator.eval()
    try:
        outs = [generator(class_map[s:s + batch_size], instance_map[s:s + batch_size])
                .float().cpu() for s in range(0, class_map.shape[0], max(1, batch_size))]
    finally:
        generator.train(was)
    return torch.cat(outs)


_HD_PRESETS: dict[str, str] = {"512p": "1024x512", "1024p": "2048x1024"}
# Epochs of the official scripts (NVIDIA/pix2pixHD scripts/train_512p.sh: niter 100 +
# niter_decay 100; train_1024p_24G.sh: niter 50 + niter_decay 50, niter_fix_global 10, G1
# loaded from the 512p run). Without a trained G1, the 1024p run trains G1 first (phase 1)
# for the 512p run's 200 epochs: 300 in all.
_HD_EPOCHS = {"512p": 200, "1024p": 100, "1024p+G1": 300}


class Pix2PixHDRecipe(Recipe):
    """pix2pixHD (Wang et al., CVPR 2018) on the course's street scenes, with the official
    presets (:data:`course_lib.train.pix2pixhd_setup.PAPER_SETUPS`):

    * ``--preset 512p``: the global generator G1 alone (4 down-samplings, 9 residual blocks,
      ngf 64), 2 discriminator scales, at 1024x512 (``train_512p.sh``, 200 epochs);
    * ``--preset 1024p`` (default): G1 (ngf 64) inside one local enhancer G2 (3 residual
      blocks, ngf 32), 3 discriminator scales, at 2048x1024, trained coarse to fine (Sec. 3.2):
      phase 1 G1 alone at half resolution, phase 2 G2 with G1 frozen, phase 3 everything;
      ``--global-from RUN`` starts from the G1 of a finished 512p run instead of phase 1
      (the official ``train_1024p_24G.sh``).

    Both: instance norm, LSGAN + feature matching (lambda 10), Adam 2e-4 (0.5, 0.999), batch 1,
    the instance boundary map, each stage's learning rate constant then linear to zero
    (:class:`~course_lib.train.pix2pixhd.Pix2PixHD`). With ``--profile`` the sizes are notebook
    05's (:func:`course_lib.experiment_pix2pixhd.hd_setup`). Data: the procedural streets only
    (label + instance maps). Under ``torchrun`` all three phases run on every process, each
    with its slice of the global batch (:class:`~course_lib.train.pix2pixhd.Pix2PixHD`'s
    ``wrap``).
    """

    name = "pix2pixhd"
    title = "pix2pixHD (Wang et al., CVPR 2018)"
    paper = ("global generator + local enhancer, multi-scale PatchGANs, LSGAN + feature "
             "matching (lambda 10), instance norm, instance boundary maps; presets 512p/1024p")
    requires = ("course_lib.models.pix2pixhd", "course_lib.train.pix2pixhd",
                "course_lib.train.pix2pixhd_setup", "course_lib.experiment_pix2pixhd")
    default_test_mode = "eval"

    def check_data(self, data: str) -> None:
        text = str(data).strip()
        if text in ("streets", "synthetic:streets"):
            return
        raise ValueError(
            f"--data {text!r}: pix2pixHD takes a label map AND an instance map per photo, and "
            "the command line supports only --data streets (the procedural street scenes, "
            "rendered offline with class_map and instance_map). A loader for real Cityscapes "
            "folders (*_labelIds.png, *_instanceIds.png, *_leftImg8bit.png) is not part of the "
            "course: docs/pix2pixhd_at_scale.md says what such a dataset must return")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        g = parser.add_argument_group(
            "pix2pixHD (defaults: the official presets; with --profile, notebook 05's sizes)")
        g.add_argument("--preset", choices=tuple(_HD_PRESETS), default="1024p",
                       help="512p: G1 alone at 1024x512 (train_512p.sh); 1024p: G1 + local "
                            "enhancer at 2048x1024 (train_1024p_24G.sh, needs ~24 GB). The "
                            "image size is the preset's unless --profile or --image-size says "
                            "otherwise (default: %(default)s)")
        g.add_argument("--global-steps", type=int, default=None, metavar="N",
                       help="1024p, phase 1: steps of G1 alone at half resolution (default: "
                            "2/3 of --steps, the 512p run's 200 of 300 epochs; 0 with "
                            "--global-from)")
        g.add_argument("--fix-global-steps", type=int, default=None, metavar="N",
                       help="1024p, phase 2: steps of the enhancer with G1 frozen, before "
                            "phase 3 trains everything (default: 1/10 of the steps after "
                            "phase 1, the official niter_fix_global 10 of 100 epochs)")
        g.add_argument("--global-from", default=None, metavar="RUN",
                       help="1024p: take G1 from a finished `--preset 512p` run folder (trained "
                            "at half this resolution, same profile/widths) instead of phase 1")
        g.add_argument("--ngf", type=int, default=None,
                       help="outermost generator width (512p: 64; 1024p: 32 for G2, G1 gets "
                            "twice; default: the preset's or the profile's)")
        g.add_argument("--ndf", type=int, default=None,
                       help="discriminator width (paper 64; default: the profile's, else 64)")
        g.add_argument("--num-d", type=int, default=None, metavar="K",
                       help="discriminator scales (512p: 2, 1024p: 3; fewer where the image "
                            "is too small for 70x70 patches at every scale)")
        g.add_argument("--n-blocks-global", type=int, default=None, metavar="N",
                       help="residual blocks of G1 (paper 9; default: the profile's)")
        g.add_argument("--n-blocks-local", type=int, default=None, metavar="N",
                       help="residual blocks of G2 (paper 3; default: the profile's)")
        g.add_argument("--no-instance", action="store_true",
                       help="leave out the instance boundary map (the paper's ablation, "
                            "Sec. 3.3)")
        g.add_argument("--no-feat-loss", action="store_true",
                       help="leave out the feature-matching loss (ablation of Eq. 4)")
        g.add_argument("--lambda-feat", type=float, default=10.0, metavar="L",
                       help="weight of feature matching, Eq. 5 (default: %(default)s)")
        g.add_argument("--vgg", action="store_true",
                       help="add the VGG perceptual loss (lambda 10; on in the official code, "
                            "off here by default: it needs ImageNet VGG19 weights)")
        g.add_argument("--gan-mode", choices=("lsgan", "vanilla", "hinge"), default="lsgan",
                       help="GAN loss (paper: lsgan; default: %(default)s)")
        g.add_argument("--lr", type=float, default=2e-4,
                       help="Adam learning rate of G and D (default: %(default)s)")
        g.add_argument("--beta1", type=float, default=0.5,
                       help="Adam beta1 (default: %(default)s)")

    def hyperparameters(self, args: argparse.Namespace) -> dict[str, Any]:
        return {"preset": args.preset, "global_steps": args.global_steps,
                "fix_global_steps": args.fix_global_steps, "global_from": args.global_from,
                "ngf": args.ngf, "ndf": args.ndf, "num_D": args.num_d,
                "n_blocks_global": args.n_blocks_global, "n_blocks_local": args.n_blocks_local,
                "use_boundary": not args.no_instance,
                "use_feature_matching": not args.no_feat_loss, "lambda_feat": args.lambda_feat,
                "use_vgg": args.vgg, "gan_mode": args.gan_mode, "lr": args.lr,
                "beta1": args.beta1, "beta2": 0.999}

    def _setup(self, hp: Mapping[str, Any], profile: str | None) -> Any:
        """The preset's :class:`~course_lib.train.pix2pixhd_setup.HDSetup`, or notebook 05's
        for a profile."""
        from course_lib.experiment_pix2pixhd import hd_setup
        from course_lib.profiles import PROFILES
        from course_lib.train.pix2pixhd_setup import PAPER_SETUPS

        if hp["preset"] not in _HD_PRESETS:
            raise ValueError(f"--preset {hp['preset']!r}: use {' or '.join(_HD_PRESETS)}")
        if profile is None:
            return PAPER_SETUPS[_HD_PRESETS[hp["preset"]]]
        return hd_setup(PROFILES[profile], enhancers=int(hp["preset"] == "1024p"))

    def default_sizes(self, hp: Mapping[str, Any], profile: str | None) -> dict[str, Any]:
        setup = self._setup(hp, profile)
        out: dict[str, Any] = {"image_size": setup.height, "ngf": setup.ngf, "ndf": setup.ndf,
                               "batch_size": setup.batch_size}
        if profile is None:
            key = "1024p+G1" if hp["preset"] == "1024p" and not hp["global_from"] \
                else hp["preset"]
            out["epochs"] = _HD_EPOCHS[key]
        return out

    def complete_hyperparameters(self, hp: Mapping[str, Any], *, profile: str | None,
                                 steps: int, size: tuple[int, int]) -> dict[str, Any]:
        from course_lib.models.pix2pixhd import max_num_D

        hp = dict(hp)
        setup = self._setup(hp, profile)
        enhanced = hp["preset"] == "1024p"
        h, w = size
        for key, attr in (("n_blocks_global", "n_blocks_global"),
                          ("n_blocks_local", "n_blocks_local")):
            if hp[key] is None:
                hp[key] = getattr(setup, attr)
        if hp["num_D"] is None:
            hp["num_D"] = max(1, min(setup.num_D, max_num_D(h, w, setup.n_layers_D)))
        if not enhanced:
            for key in ("global_steps", "fix_global_steps", "global_from"):
                if hp[key]:
                    raise ValueError(f"--{key.replace('_', '-')} is for --preset 1024p (the "
                                     "local enhancer); --preset 512p trains G1 in one phase")
            hp["global_steps"] = hp["fix_global_steps"] = 0
            return hp
        if hp["global_steps"] is None:
            hp["global_steps"] = 0 if hp["global_from"] else (2 * steps) // 3
        if hp["global_from"] and hp["global_steps"]:
            raise ValueError("--global-from gives a trained G1: phase 1 (--global-steps) would "
                             "train it again; drop one of them")
        if hp["fix_global_steps"] is None:
            hp["fix_global_steps"] = (steps - int(hp["global_steps"])) // 10
        for key in ("global_steps", "fix_global_steps"):
            if int(hp[key]) < 0:
                raise ValueError(f"--{key.replace('_', '-')} must be >= 0, got {hp[key]}")
        if int(hp["global_steps"]) + int(hp["fix_global_steps"]) > steps:
            raise ValueError(f"--global-steps {hp['global_steps']} + --fix-global-steps "
                             f"{hp['fix_global_steps']} exceed the {steps} steps of the run")
        if h % 2 or w % 2:
            raise ValueError(f"the local enhancer halves the image for G1: {h}x{w} must be even")
        return hp

    def _global_generator(self, run_dir: str) -> nn.Module:
        import json
        from pathlib import Path

        from course_lib.models.pix2pixhd import GlobalGenerator
        from course_lib.train.checkpoint import load_checkpoint

        path = Path(run_dir)
        config_file, ckpt = path / "config.json", path / "last.pt"
        if not config_file.is_file() or not ckpt.is_file():
            raise FileNotFoundError(f"--global-from {run_dir}: not a run folder with "
                                    "config.json and last.pt (train it with `train pix2pixhd "
                                    "--preset 512p` first)")
        config = json.loads(config_file.read_text())
        if config.get("model") != "pix2pixhd" or \
                config.get("model_args", {}).get("preset") != "512p":
            raise ValueError(f"--global-from {run_dir}: a `train pix2pixhd --preset 512p` run "
                             f"is needed (this one is {config.get('model')} "
                             f"{config.get('model_args', {}).get('preset', '')})")
        state = load_checkpoint(ckpt)
        if int(state["step"]) < int(config["train"]["steps"]):
            raise ValueError(f"--global-from {run_dir}: the run stopped at step {state['step']} "
                             f"of {config['train']['steps']}; finish it with --resume first")
        return _load_generator(GlobalGenerator, state)

    def build(self, hp: Mapping[str, Any], data: DataChoice, ctx: DistributedContext,
              settings: TrainSettings) -> Trainer:
        from course_lib.models.pix2pixhd import GlobalGenerator
        from course_lib.train.pix2pixhd import Pix2PixHDConfig
        from course_lib.train.pix2pixhd_setup import HDSetup, build_pix2pixhd

        if settings.compile:
            raise ValueError("--compile is not supported for pix2pixHD yet (its trainer needs "
                             "the bare GlobalGenerator/LocalEnhancer); drop --compile")
        if data.dataset_name != "streets" or data.num_classes is None:
            self.check_data(str(data.spec.get("root", data.spec.get("name"))))
        h, w = data.size
        enhanced = hp["preset"] == "1024p"
        setup = HDSetup(height=h, width=w, n_local_enhancers=int(enhanced), ngf=int(hp["ngf"]),
                        n_blocks_global=int(hp["n_blocks_global"]),
                        n_blocks_local=int(hp["n_blocks_local"]), ndf=int(hp["ndf"]),
                        num_D=int(hp["num_D"]), use_boundary=bool(hp["use_boundary"]),
                        batch_size=settings.batch_size)
        factor = 2 ** (setup.n_downsample_global + setup.n_local_enhancers)
        if h % factor or w % factor:
            raise ValueError(f"pix2pixHD's generator needs sides divisible by {factor}; the "
                             f"scenes are {h}x{w}: pick an --image-size that is a multiple of "
                             f"{factor}")
        cfg = Pix2PixHDConfig(
            num_classes=int(data.num_classes), use_boundary=bool(hp["use_boundary"]),
            use_feature_matching=bool(hp["use_feature_matching"]),
            lambda_feat=float(hp["lambda_feat"]), gan_mode=hp["gan_mode"], lr=float(hp["lr"]),
            beta1=float(hp["beta1"]), beta2=float(hp["beta2"]), steps=settings.steps,
            global_steps=int(hp["global_steps"]), fix_global_steps=int(hp["fix_global_steps"]),
            amp=settings.amp)  # type: ignore[arg-type]
        g1 = self._global_generator(hp["global_from"]) if hp["global_from"] else None
        assert g1 is None or isinstance(g1, GlobalGenerator)
        def convert(net: nn.Module) -> nn.Module:
            if settings.channels_last:
                net = net.to(memory_format=torch.channels_last)
            return sync_batch_norm(net, ctx) if settings.sync_bn else net

        # Under torchrun every forward pass runs through DDP; the trainer keeps the bare nets.
        model = build_pix2pixhd(setup, cfg.num_classes, cfg, device=ctx.device,
                                seed=settings.seed, global_generator=g1, convert=convert,
                                wrap=lambda net, unused: wrap_ddp(net, ctx, unused))
        if hp["use_vgg"]:
            from course_lib.losses import vgg_perceptual_loss

            vgg, why = vgg_perceptual_loss(verbose=False)
            if vgg is None:
                raise ModelUnavailable(f"--vgg: {why}")
            model.vgg = vgg.to(ctx.device)
            model.config.use_vgg = True
        if ctx.is_main:
            phases = (f"phases: global (G1 alone at {w // 2}x{h // 2}) steps [0, "
                      f"{cfg.global_steps}), local (G1 frozen) [{cfg.global_steps}, "
                      f"{cfg.global_steps + cfg.fix_global_steps}), joint to {cfg.steps}"
                      if enhanced else "one phase (G1 alone)")
            print(f"pix2pixHD --preset {hp['preset']}: {w}x{h} (WxH), {phases}"
                  f"{'; G1 from ' + str(hp['global_from']) if g1 is not None else ''}",
                  flush=True)
        configs = {k: dict(getattr(m, "config", {})) for k, m in model.modules.items()}
        configs["pix2pixhd"] = {"num_classes": cfg.num_classes,
                                "use_boundary": cfg.use_boundary, "dataset": "streets"}
        num_classes, use_boundary = cfg.num_classes, cfg.use_boundary
        return Trainer(step=model.train_step, modules=model.modules,
                       optimizers=model.optimizers, schedulers=model.schedulers,
                       model_configs=configs, model=model,
                       generator_view=lambda G: _LabelsToPhoto(G, num_classes, use_boundary))

    def generator_from_state(self, state: Mapping[str, Any]) -> nn.Module:
        from course_lib.models.pix2pixhd import GlobalGenerator, LocalEnhancer

        info = state.get("model_configs", {}).get("pix2pixhd")
        if info is None:
            raise KeyError("the checkpoint has no pix2pixHD settings: was it written by "
                           "`train pix2pixhd`?")
        cls = LocalEnhancer if "n_local_enhancers" in state["model_configs"].get("G", {}) \
            else GlobalGenerator
        return _LabelsToPhoto(_load_generator(cls, state), info["num_classes"],
                              info["use_boundary"])

    def translate(self, generator: nn.Module, inputs: torch.Tensor, test_mode: str,
                  batch_size: int, seed: int = 0) -> torch.Tensor:
        """Colour-coded street label images (as ``SyntheticStreets.colorize`` draws them)
        -> photos. A colour image holds no instance ids: each class region counts as one
        instance, so boundaries between touching objects of one class are missing (train
        sample grids and ``evaluate`` use the real instance maps)."""
        classes = _LabelsToPhoto.colors_to_classes(inputs)
        return _hd_generate(generator, classes, classes, batch_size)

    def translate_pairs(self, generator: nn.Module, pairs: Mapping[str, torch.Tensor],
                        test_mode: str, batch_size: int, seed: int = 0) -> torch.Tensor:
        if "class_map" in pairs and "instance_map" in pairs:
            return _hd_generate(generator, pairs["class_map"], pairs["instance_map"],
                                batch_size)
        return self.translate(generator, pairs["A"], test_mode, batch_size, seed)

    def evaluate(self, generator: nn.Module, val: Any, data: DataChoice, *, test_mode: str,
                 batch_size: int, seed: int = 0, n: int | None = None,
                 segmenter: Any = None) -> dict[str, Any]:
        """notebook 05's measures (:func:`course_lib.experiment_pix2pixhd.evaluate_outputs`):
        FCN-score (with a segmenter), accuracy at boundaries between touching instances of one
        class, sharpness inside class regions, L1; plus PSNR and SSIM."""
        from course_lib.experiment_pix2pixhd import evaluate_outputs
        from course_lib.metrics import psnr, ssim

        maps = _hd_maps(val, n)
        fake = _hd_generate(generator, maps["class_map"], maps["instance_map"],
                            max(1, batch_size))
        ev = evaluate_outputs(fake, maps, segmenter, keep_images=False)
        real = maps["B"].float()
        out: dict[str, Any] = {"pairs": ev.count, "test_mode": test_mode}
        out.update({k: _json_number(v) for k, v in ev.as_dict().items()})
        out["psnr"] = _json_number(float(psnr(fake.clamp(-1, 1), real)))
        if min(real.shape[-2:]) >= 11:
            out["ssim"] = _json_number(float(ssim(fake.clamp(-1, 1), real)))
        return out


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
        g.add_argument("--norm", choices=("instance", "batch"), default="instance",
                       help="normalisation in G, E and D (paper: instance; batch lets G use z "
                            "much sooner on short runs, see notebook 06; default: %(default)s)")
        g.add_argument("--no-dropout", action="store_true",
                       help="no dropout in G's decoder (every official training script passes "
                            "--use_dropout, so the default keeps it)")

    def batch_groups(self, hp: Mapping[str, Any]) -> int:
        """The hybrid splits every batch in halves (Sec. 3.4): the cVAE-GAN branch's and the
        cLR-GAN branch's real images."""
        return 2 if hp.get("variant", "bicyclegan") == "bicyclegan" else 1

    def hyperparameters(self, args: argparse.Namespace) -> dict[str, Any]:
        return {"ngf": args.ngf, "ndf": args.ndf, "variant": args.variant, "nz": args.nz,
                "where_add": args.where_add, "norm": args.norm, "lambda_l1": args.lambda_l1,
                "lambda_kl": args.lambda_kl, "lambda_latent": args.lambda_latent,
                "lr": args.lr, "dropout": not args.no_dropout}

    def build(self, hp: Mapping[str, Any], data: DataChoice, ctx: DistributedContext,
              settings: TrainSettings) -> Trainer:
        from dataclasses import replace as dc_replace

        from course_lib.experiment_bicyclegan import default_bicycle_networks
        from course_lib.profiles import PROFILES
        from course_lib.train.bicyclegan import BicycleGAN, BicycleGANConfig

        h, w = data.size
        probe = data.train[0]
        P = dc_replace(PROFILES["gpu"], image_size=min(h, w), ngf=int(hp["ngf"]),
                       ndf=int(hp["ndf"]))
        torch.manual_seed(settings.seed)
        nets = default_bicycle_networks(P, variant=hp["variant"], where_add=hp["where_add"],
                                        nz=int(hp["nz"]), norm=str(hp.get("norm", "instance")),
                                        use_dropout=bool(hp.get("dropout", False)),
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
            if settings.sync_bn:                 # --norm batch: the global batch's statistics
                net = sync_batch_norm(net, ctx)
            if settings.compile:
                net = torch.compile(net)  # type: ignore[assignment]
            # cLR-GAN uses only E's mean: its log-variance head gets no gradient.
            wrapped[key] = wrap_ddp(net, ctx, key == "E" and hp["variant"] == "clr-gan")
        cfg = BicycleGANConfig(variant=hp["variant"], lambda_l1=float(hp["lambda_l1"]),
                               lambda_kl=float(hp["lambda_kl"]),
                               lambda_latent=float(hp["lambda_latent"]), lr=float(hp["lr"]),
                               steps=settings.steps)
        model = BicycleGAN(wrapped["G"], wrapped["E"], wrapped["D"],  # type: ignore[arg-type]
                           wrapped["D2"], cfg, rank=ctx.rank, world_size=ctx.world_size)
        return Trainer(step=model.train_step, modules=model.modules,
                       optimizers=model.optimizers, schedulers=model.schedulers,
                       model_configs={k: v for k, v in configs.items() if k in model.modules},
                       model=model, rank_streams=False)

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

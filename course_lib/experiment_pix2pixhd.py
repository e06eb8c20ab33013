"""One-call pix2pixHD experiments: train a variant under a profile, then measure it.

Wang et al., "High-Resolution Image Synthesis and Semantic Manipulation with Conditional
GANs", CVPR 2018. Notebook 05 compares variants of pix2pixHD on the course's street scenes
(:class:`~course_lib.data.SyntheticStreets`): with and without feature matching (Sec. 3.2,
Eq. 4), with and without the instance boundary map (Sec. 3.3), one discriminator or several
scales (Sec. 3.2), G1 alone or G1 + the local enhancer, and the instance feature encoder
(Sec. 3.4). Each is one call::

    run = train_pix2pixhd(P, train, val, config=Pix2PixHDConfig(use_boundary=False),
                          segmenter=seg, run_dir="runs/05/no_boundary")
    print(run.evaluation)

The boundary-map claim has its own scenes, :class:`~course_lib.data.SyntheticBlocks` (rows of
touching same-class blocks parted only by a dark seam; :func:`blocks_pairs`), and its own G1
size, :func:`blocks_setup` (2 down-samplings, so that a bottleneck cell is a fraction of a
block); on them the evaluation adds the seam measures of :mod:`course_lib.metrics.seams`.

* **Sizes** come from the profile (:func:`hd_setup`): G1 trains at ``P.hd_size``, the
  enhancer at twice that; ``ngf`` is ``P.ngf`` for G1 and half of it for the enhancer (the
  official 2048x1024 script's ratio, 64 and 32); the number of discriminator scales is the
  paper's 3 where the image is large enough for three 70x70 PatchGANs, else as many as fit
  (see :func:`~course_lib.models.max_num_D`). The ``gpu`` profile uses the official widths.
* **Training** is :class:`~course_lib.train.pix2pixhd.Pix2PixHD` in the shared
  :class:`~course_lib.train.engine.TrainingLoop`; a ``run_dir`` makes it resumable exactly as
  :func:`~course_lib.experiment.train_pix2pix` (same settings check).
* **Evaluation** (:func:`evaluate_outputs`): the FCN-score of the streets segmenter
  (pix2pixHD Sec. 4 uses the same protocol, with a Cityscapes PSPNet), the boundary accuracy
  between touching instances of one class (:mod:`course_lib.metrics.boundary`), sharpness
  inside class regions and L1. Models with instance features are evaluated with the features
  the encoder extracts from the real photo (the reconstruction setting).

The paper's 2048x1024 setting is :data:`~course_lib.train.pix2pixhd_setup.PAPER_SETUPS`
passed as ``setup=`` (see ``docs/pix2pixhd_at_scale.md``).
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from course_lib.data.cache import InMemoryPairs
from course_lib.data.blocks import SyntheticBlocks
from course_lib.data.streets import SyntheticStreets
from course_lib.experiment import (_positive, open_run, plot_history, release_training_state,
                                   run_folder_name)
from course_lib.losses import VGGPerceptualLoss
from course_lib.metrics import FCNScore, Segmenter, fcn_score, sharpness_ratio
from course_lib.metrics.boundary import BoundaryScore, boundary_accuracy
from course_lib.metrics.seams import SeamScore, seam_score
from course_lib.models.clusters import FeatureClusters, collect_instance_features
from course_lib.models.pix2pixhd import GlobalGenerator, max_num_D
from course_lib.profiles import Profile, cap_steps, scale_to_cap
from course_lib.train.checkpoint import save_checkpoint, unwrap
from course_lib.train.plain import from_plain, to_plain
from course_lib.train.engine import History, LoopConfig, TrainingLoop
from course_lib.train.pix2pixhd import Pix2PixHD, Pix2PixHDConfig
from course_lib.train.pix2pixhd_setup import HDSetup, build_pix2pixhd

__all__ = ["hd_setup", "streets_pairs", "blocks_setup", "blocks_pairs", "BLOCKS_SIZES",
           "hide_instances", "HDEvaluation", "hd_outputs", "evaluate_outputs",
           "evaluate_hd", "Pix2PixHDRun", "train_pix2pixhd", "train_hd_variants",
           "fit_feature_clusters", "hd_results_table", "print_hd_results", "show_hd_outputs",
           "touching_window"]

# Residual blocks of G1 and batch sizes (G1 alone, G1 + G2) per profile.
# cpu: 9 blocks at ngf 32 cost ~0.5 s per step on 2 cores; 4 keep G1's depth (4
# down-samplings, 70x70 D) and fit five runs in the notebook's ten minutes.
# gpu: the paper's blocks; batch 2 for G1 (the paper's is 1; instance norm makes the batch
# size a matter of speed only) and 1 for the enhancer, so that notebook 05 fits 30 minutes
# of a Colab T4 (course_lib.gpu_budget) and 16 GB.
_PROFILE_SIZES: dict[str, dict[str, int]] = {
    "ci": {"n_blocks_global": 1, "n_blocks_local": 1, "batch_size": 2, "batch_size_local": 2,
           "nef": 4},
    "cpu": {"n_blocks_global": 4, "n_blocks_local": 3, "batch_size": 1, "batch_size_local": 1,
            "nef": 16},
    "gpu": {"n_blocks_global": 9, "n_blocks_local": 3, "batch_size": 2, "batch_size_local": 1,
            "nef": 16},
}


def hd_setup(P: Profile, enhancers: int = 0, **overrides: Any) -> HDSetup:
    """The network sizes of a pix2pixHD run under profile ``P``.

    Args:
        P: the profile; G1 runs at ``P.hd_size``.
        enhancers: 0 for G1 alone (output ``P.hd_size``), 1 for G1 + one local enhancer
            (output twice as high and wide).
        overrides: any :class:`~course_lib.train.pix2pixhd_setup.HDSetup` field.
    """
    sizes = _PROFILE_SIZES.get(P.name, _PROFILE_SIZES["gpu"])
    h, w = (s * 2 ** enhancers for s in P.hd_size)
    ngf = P.ngf // 2 ** enhancers if enhancers else P.ngf
    kwargs: dict[str, Any] = dict(
        height=h, width=w, n_local_enhancers=enhancers, ngf=max(1, ngf), ndf=P.ndf,
        num_D=max(1, min(3, max_num_D(h, w, 3))), n_blocks_global=sizes["n_blocks_global"],
        n_blocks_local=sizes["n_blocks_local"],
        batch_size=sizes["batch_size_local" if enhancers else "batch_size"],
        nef=sizes["nef"])
    kwargs.update(overrides)
    return HDSetup(**kwargs)


def streets_pairs(P: Profile, split: str = "train", n: int | None = None, enhancers: int = 0,
                  progress: bool = True) -> InMemoryPairs:
    """Street scenes at the resolution of a run with ``enhancers`` local enhancers, rendered
    once and kept in memory (default ``n``: ``P.train_size`` for train, ``P.eval_size`` else)."""
    h, w = (s * 2 ** enhancers for s in P.hd_size)
    if n is None:
        n = P.train_size if split == "train" else P.eval_size
    return InMemoryPairs(SyntheticStreets(image_size=(h, w), split=split), n, progress=progress)


# G1 for the blocks (the boundary-map claim), per profile: 2 down-samplings (a 4x4 px
# bottleneck cell at 128x64, a fraction of a 12-28 px block, as the official 4 at 1024x512
# leave 16x16 px cells, a fraction of a car there), 3 residual blocks, batch 4; measured by
# the probe of issue 26 and tools/hd_seeds.py: 500 steps show the map's seams on 3 seed pairs.
# gpu (not measured on a GPU): the paper's 4 down-samplings and 9 blocks at 256x512 (16 px
# cells, a fraction of a 48-112 px block), batch 2 as the streets' G1, to fit a 16 GB T4.
BLOCKS_SIZES: dict[str, dict[str, int]] = {
    "ci": {"n_downsample_global": 2, "n_blocks_global": 1, "batch_size": 2},
    "cpu": {"n_downsample_global": 2, "n_blocks_global": 3, "batch_size": 4},
    "gpu": {"n_downsample_global": 4, "n_blocks_global": 9, "batch_size": 2},
}


def blocks_setup(P: Profile, enhancers: int = 0, **overrides: Any) -> HDSetup:
    """G1's sizes for the blocks under profile ``P`` (:data:`BLOCKS_SIZES`): ``P.hd_size``,
    ``P.ngf``/``P.ndf``, as many 70x70 D scales as fit (:func:`hd_setup`), and the
    down-samplings, residual blocks and batch of :data:`BLOCKS_SIZES`. ``enhancers=1``: that
    G1 inside one local enhancer at twice the size (the enhancer's batch of
    :func:`hd_setup`); ``overrides`` as :func:`hd_setup`'s."""
    kwargs: dict[str, Any] = dict(BLOCKS_SIZES.get(P.name, BLOCKS_SIZES["gpu"]))
    if enhancers:
        del kwargs["batch_size"]
    kwargs.update(overrides)
    return hd_setup(P, enhancers=enhancers, **kwargs)


def blocks_pairs(P: Profile, split: str = "train", n: int | None = None, seed: int = 0,
                 enhancers: int = 0, progress: bool = True, **options: Any) -> InMemoryPairs:
    """Blocks scenes (:class:`~course_lib.data.SyntheticBlocks`, ``options`` are its knobs)
    at G1's size (``enhancers=1``: twice as high and wide), rendered once and kept in memory
    (default ``n``: ``P.train_size`` for train, ``P.eval_size`` else). ``seed`` selects the
    data set (the "data" half of a seed pair)."""
    h, w = (s * 2 ** enhancers for s in P.hd_size)
    if n is None:
        n = P.train_size if split == "train" else P.eval_size
    return InMemoryPairs(SyntheticBlocks(image_size=(h, w), split=split, seed=seed, **options),
                         n, progress=progress)


def hide_instances(pairs: Dataset | Mapping[str, torch.Tensor], n: int | None = None
                   ) -> dict[str, torch.Tensor]:
    """``pairs`` with every object's instance id replaced by its class id: the boundary map
    then shows class edges only (the test-time intervention of notebook 05: do G's seams
    fade when the instance boundaries are hidden?)."""
    from course_lib.models.clusters import instance_class

    data = _stack(pairs, n)
    return {**data, "instance_map": instance_class(data["instance_map"])}


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class HDEvaluation:
    """What :func:`evaluate_outputs` measured on a set of validation scenes.

    Attributes:
        fcn, fcn_real: FCN-score of the generated and of the real photos (upper bound).
        boundary: accuracy and contrast at boundaries between touching instances.
        sharpness_inside: high-frequency energy inside class regions, generated / real.
        l1: mean absolute difference to the real photos.
        count: scenes evaluated.
        fake: the generated images (CPU), for display.
        seams: seam depth and seams in the wrong place (:mod:`course_lib.metrics.seams`;
            blocks scenes only, else ``None``).
    """

    fcn: FCNScore | None
    fcn_real: FCNScore | None
    boundary: BoundaryScore
    sharpness_inside: float
    l1: float
    count: int
    fake: torch.Tensor | None = field(default=None, repr=False, compare=False)
    seams: SeamScore | None = None

    def as_dict(self) -> dict[str, float]:
        out: dict[str, float] = {}
        if self.fcn is not None:
            out.update(self.fcn.as_dict())
        if self.fcn_real is not None:
            out.update({f"real_{k}": v for k, v in self.fcn_real.as_dict().items()})
        out.update(boundary_acc=self.boundary.accuracy, boundary_contrast=self.boundary.contrast,
                   class_boundary_acc=self.boundary.class_accuracy,
                   sharpness_inside=self.sharpness_inside, l1=self.l1)
        if self.seams is not None:
            out.update(seam_depth=self.seams.depth, seam_hits=self.seams.hit_rate,
                       wrong_seams=self.seams.wrong_per_scene)
        return out

    def without_images(self) -> HDEvaluation:
        return replace(self, fake=None)

    def __str__(self) -> str:
        fcn = f"FCN-score: {self.fcn}" if self.fcn is not None else "no FCN-score"
        seams = f" | {self.seams}" if self.seams is not None else ""
        return (f"{fcn} | boundaries: {self.boundary}{seams} | sharpness inside "
                f"{self.sharpness_inside:.2f} | L1 {self.l1:.3f}  [{self.count} scenes]")


def _stack(pairs: Dataset | Mapping[str, torch.Tensor], n: int | None = None
           ) -> dict[str, torch.Tensor]:
    keys = ("A", "B", "class_map", "instance_map")
    if isinstance(pairs, Mapping):
        out = {k: pairs[k] for k in keys if k in pairs}
    else:
        cached = pairs if isinstance(pairs, InMemoryPairs) else \
            InMemoryPairs(pairs, n, exact=True, progress=False)
        out = {k: cached.stacked(k) for k in keys if k in cached.keys()}  # type: ignore[misc]
    missing = {"B", "class_map", "instance_map"} - set(out)
    if missing:
        raise ValueError(f"pix2pixHD needs the photos 'B', 'class_map' and 'instance_map'; "
                         f"missing {sorted(missing)} (use SyntheticStreets)")
    return {k: v[:n] for k, v in out.items()} if n is not None else out


@torch.no_grad()
def hd_outputs(model: Pix2PixHD, pairs: Dataset | Mapping[str, torch.Tensor],
               features: torch.Tensor | FeatureClusters | None = None, coarse: bool = False,
               batch_size: int = 8, n: int | None = None) -> torch.Tensor:
    """The generator's outputs for the label and instance maps of ``pairs`` (CPU tensor).

    Args:
        model: a trained :class:`~course_lib.train.pix2pixhd.Pix2PixHD`.
        pairs: scenes with ``"class_map"``, ``"instance_map"`` (and ``"B"`` for features).
        features: for a model with instance features: ``None`` encodes the real photos with
            E (reconstruction), a :class:`~course_lib.models.FeatureClusters` draws a random
            cluster per instance, a tensor ``(N, F, H, W)`` is used as it is.
        coarse: G1's half-resolution output of a LocalEnhancer.
        batch_size: scenes per forward pass (instance norm makes outputs independent of it).
    """
    data = _stack(pairs, n)
    G = model.G
    flags = {k: m.training for k, m in model.modules.items()}
    device = next(G.parameters()).device
    outs = []
    try:
        for m in model.modules.values():
            m.eval()
        for s in range(0, data["B"].shape[0], batch_size):
            sl = slice(s, s + batch_size)
            cm, im = data["class_map"][sl].to(device), data["instance_map"][sl].to(device)
            feats = None
            if model.config.use_features:
                if features is None:
                    assert model.E is not None
                    feats = model.E(data["B"][sl].to(device), im)
                elif isinstance(features, FeatureClusters):
                    feats = features.feature_map(im.cpu(), seed=s).to(device)
                else:
                    feats = features[sl].to(device)
            outs.append(model.generate(cm, im, feats, coarse=coarse).float().cpu())
    finally:
        for k, m in model.modules.items():
            m.train(flags[k])
    return torch.cat(outs)


def evaluate_outputs(fake: torch.Tensor, pairs: Dataset | Mapping[str, torch.Tensor],
                     segmenter: Segmenter | None, keep_images: bool = True,
                     margin: int = 2, seams: bool = False) -> HDEvaluation:
    """Measure generated street scenes ``fake`` (N, 3, H, W) against ``pairs``' first N.

    FCN-score (``segmenter=None`` skips it), boundary accuracy, sharpness inside class
    regions (``margin`` pixels from their edges) and L1; with ``seams=True`` (blocks scenes)
    also :func:`~course_lib.metrics.seams.seam_score`.
    """
    data = _stack(pairs, fake.shape[0])
    real = data["B"].float().cpu()
    if fake.shape != real.shape:
        raise ValueError(f"the outputs {tuple(fake.shape)} and the photos {tuple(real.shape)} "
                         f"differ in shape; up-sample G1's outputs first (F.interpolate)")
    fake = fake.float().cpu().clamp(-1, 1)
    cm, im = data["class_map"].long(), data["instance_map"].long()
    fcn = fcn_real = None
    if segmenter is not None:
        dev = next(segmenter.parameters()).device
        fcn = fcn_score(segmenter, fake.to(dev), cm.to(dev))
        fcn_real = fcn_score(segmenter, real.to(dev), cm.to(dev))
    return HDEvaluation(
        fcn=fcn, fcn_real=fcn_real, boundary=boundary_accuracy(fake, real, im, cm),
        sharpness_inside=sharpness_ratio(fake, real, cm, margin=margin),
        l1=float((fake - real).abs().mean()), count=int(fake.shape[0]),
        fake=fake if keep_images else None, seams=seam_score(fake, im, cm) if seams else None)


def evaluate_hd(model: Pix2PixHD, pairs: Dataset | Mapping[str, torch.Tensor],
                segmenter: Segmenter | None, n: int | None = None, coarse: bool = False,
                keep_images: bool = True, seams: bool = False) -> HDEvaluation:
    """:func:`hd_outputs` then :func:`evaluate_outputs` (``coarse`` outputs are up-sampled
    bilinearly to the photos' size)."""
    data = _stack(pairs, n)
    fake = hd_outputs(model, data, coarse=coarse)
    if fake.shape[-2:] != data["B"].shape[-2:]:
        fake = F.interpolate(fake, size=tuple(data["B"].shape[-2:]), mode="bilinear",
                             align_corners=False)
    return evaluate_outputs(fake, data, segmenter, keep_images, seams=seams)


# --------------------------------------------------------------------------- a run


@dataclass
class Pix2PixHDRun:
    """The result of :func:`train_pix2pixhd`.

    Attributes:
        name: label for tables and figures.
        model: the :class:`~course_lib.train.pix2pixhd.Pix2PixHD` (``model.G``, ``model.D``,
            ``model.E``).
        setup: the network sizes.
        history: losses per logged step (``phase`` 0/1/2 = global/local/joint).
        evaluation: final :class:`HDEvaluation` (``None`` without a validation set).
        evals: ``[(step, HDEvaluation)]`` at the steps of ``eval_at``.
        val_pairs: the validation scenes as stacked tensors.
        run_dir, seconds, resumed_from, steps, step: as :class:`~course_lib.experiment.Pix2PixRun`.
    """

    name: str
    model: Pix2PixHD
    setup: HDSetup
    history: History
    evaluation: HDEvaluation | None
    evals: list[tuple[int, HDEvaluation]]
    val_pairs: dict[str, torch.Tensor]
    run_dir: Path | None
    seconds: float
    resumed_from: int | None
    steps: int
    step: int

    @property
    def G(self) -> nn.Module:
        return self.model.G

    @property
    def finished(self) -> bool:
        return self.step >= self.steps

    def __repr__(self) -> str:
        where = f", run_dir={str(self.run_dir)!r}" if self.run_dir else ""
        return (f"Pix2PixHDRun({self.name!r}, step {self.step}/{self.steps}, "
                f"{self.seconds:.0f} s{where})")

    def plot_history(self, keys: Sequence[str] | None = None, **kwargs: Any):  # type: ignore[no-untyped-def]
        """Loss curves (D, G's GAN and feature-matching terms) and D's mean outputs on the
        finest scale (raw LSGAN outputs; the mean sigmoid with the vanilla loss)."""
        recorded = self.history.keys()
        keys = keys or [k for k in ("loss_D", "loss_G_GAN", "loss_G_FM", "loss_G_VGG")
                        if k in recorded]
        kwargs.setdefault("d_output", "probability" if self.model.config.gan_mode == "vanilla"
                          else "raw")
        return plot_history(self.history, keys=keys, title=self.name, **kwargs)


_EXTRAS_FILE = "extras.pt"


def _weights_digest(module: nn.Module | None) -> str | None:
    if module is None:
        return None
    h = hashlib.blake2b(digest_size=12)
    for k, v in sorted(module.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def train_pix2pixhd(P: Profile, train_set: Dataset, val_set: Dataset | None = None, *,
                    config: Pix2PixHDConfig | None = None,
                    setup: HDSetup | None = None,
                    global_generator: GlobalGenerator | None = None,
                    steps: int | None = None,
                    run_dir: str | Path | None = None,
                    segmenter: Segmenter | None = None,
                    eval_at: Sequence[int] = (),
                    checkpoint_every: int | None = None,
                    stop_after: int | None = None,
                    vgg: VGGPerceptualLoss | None = None,
                    seed: int = 0,
                    name: str = "pix2pixHD",
                    progress: bool = True,
                    amp: str | None = "profile",
                    channels_last: bool | None = None,
                    fused_adam: bool | None = None) -> Pix2PixHDRun:
    """Train a pix2pixHD variant on street scenes under profile ``P``, then evaluate it.

    Args:
        P: the profile (device, data-loader workers; sizes through :func:`hd_setup`).
        train_set: scenes with ``"B"``, ``"class_map"`` and ``"instance_map"``
            (:func:`streets_pairs`); their size must be the setup's.
        val_set: scenes for the final evaluation; ``None`` skips it.
        config: :class:`~course_lib.train.pix2pixhd.Pix2PixHDConfig`; ``num_classes`` and
            ``steps`` are filled in. ``global_steps``/``fix_global_steps`` > 0 (or a
            ``global_generator``) make the generator a LocalEnhancer.
        setup: network sizes; default :func:`hd_setup` for the data's size
            (:func:`blocks_setup` for G1 on blocks scenes).
        global_generator: a trained G1 to wrap in the local enhancer (the official
            2048x1024 recipe); its weights are part of the run's settings.
        steps: length of the run; default ``P.steps``.
        run_dir: folder for ``last.pt``, ``history.csv``, ``run.json`` and ``extras.pt``;
            the same call continues an interrupted run or reloads a finished one.
        segmenter: the streets FCN-score segmenter at the data's size (or ``None``).
        eval_at: steps at which to evaluate as well (e.g. the end of the fixed-G1 phase);
            results in ``run.evals``.
        checkpoint_every: default about ten times per run (with a ``run_dir``).
        stop_after: train only up to this step (a later call continues).
        vgg: the VGG perceptual loss for ``config.use_vgg``.
        seed: initial weights and batch order.
        name: label of the run.
        progress: show a ``tqdm`` bar.
        channels_last: store the networks and image batches in channels_last memory format
            (faster convolutions under bf16 on CPUs and on recent GPUs); ``None`` (default):
            the profile's choice (``P.channels_last``, on with bf16 on a CPU).
        fused_adam: fused Adam kernels (speed only; checkpoints load either way); ``None``
            (default): the profile's choice (``P.fused_adam``).
        amp: ``"profile"``: ``config.amp`` if set, else ``P.amp`` (the profile's choice:
            mixed precision on CUDA, bf16 on a CPU with native bf16 at the cpu profile, see
            :mod:`course_lib.profiles`); ``None``, ``"bf16"`` or ``"fp16"`` override both.

    ``$COURSE_MAX_STEPS`` caps ``steps``; the phases, ``eval_at`` and ``stop_after`` move to
    the same places in the shorter run.
    """
    planned = _positive(P.steps if steps is None else steps, "steps")
    steps = cap_steps(planned)                     # $COURSE_MAX_STEPS, for dry runs
    if checkpoint_every is None:
        checkpoint_every = max(1, steps // 10) if run_dir is not None else 0
    checkpoint_every = _positive(checkpoint_every, "checkpoint_every", allow_zero=True)
    if stop_after is not None:
        stop_after = scale_to_cap(_positive(stop_after, "stop_after"), planned, steps)
    num_classes = getattr(train_set, "num_classes", None)
    if not num_classes:
        raise ValueError("train_set has no num_classes: use SyntheticStreets (or set it)")
    config = config or Pix2PixHDConfig()
    if steps < planned:    # a capped dry run: the phases and evaluations keep their places
        config = replace(config,
                         global_steps=scale_to_cap(config.global_steps, planned, steps),
                         fix_global_steps=scale_to_cap(config.fix_global_steps, planned, steps))
        if config.global_steps + config.fix_global_steps > steps:
            config = replace(config, fix_global_steps=steps - config.global_steps)
        eval_at = [scale_to_cap(int(s), planned, steps) for s in eval_at]
    config = replace(config, num_classes=int(num_classes), steps=steps)
    if config.amp is None and amp == "profile":
        config = replace(config, amp=P.amp)        # mixed precision on CUDA, by device
    elif amp != "profile":
        config = replace(config, amp=amp)
    channels_last = P.channels_last if channels_last is None else bool(channels_last)
    fused_adam = P.fused_adam if fused_adam is None else bool(fused_adam)
    probe = train_set[0]
    h, w = (int(s) for s in probe["B"].shape[-2:])
    enhanced = global_generator is not None or config.global_steps or config.fix_global_steps
    dataset_name = getattr(train_set, "dataset_name", None)
    blocks = dataset_name == SyntheticBlocks.dataset_name
    if setup is None:
        k = 1 if enhanced else 0
        if (h // 2 ** k, w // 2 ** k) != tuple(P.hd_size):
            raise ValueError(f"the scenes are {h}x{w} but profile {P.name!r} trains G1 at "
                             f"{P.hd_size[0]}x{P.hd_size[1]}"
                             f"{' and the enhancer at twice that' if k else ''}: render them "
                             f"with streets_pairs(P, enhancers={k}) or pass setup=")
        setup = blocks_setup(P, enhancers=k) if blocks else hd_setup(P, enhancers=k)
    setup = replace(setup, use_boundary=config.use_boundary, use_features=config.use_features)
    if (setup.height, setup.width) != (h, w):
        raise ValueError(f"setup is for {setup.height}x{setup.width} but the scenes are {h}x{w}")
    if enhanced and setup.n_local_enhancers == 0:
        raise ValueError("global_steps, fix_global_steps or global_generator need a setup with "
                         "n_local_enhancers >= 1")
    if len(train_set) < setup.batch_size:  # type: ignore[arg-type]
        raise ValueError(f"train_set has {len(train_set)} scenes, fewer than one batch of "  # type: ignore[arg-type]
                         f"{setup.batch_size}")
    model = build_pix2pixhd(setup, config.num_classes, config, device=P.device, seed=seed,
                            global_generator=global_generator, fused_adam=fused_adam)
    if config.use_vgg:
        if vgg is None:
            raise ValueError("config.use_vgg=True needs vgg=...: see "
                             "course_lib.losses.vgg_perceptual_loss()")
        model.vgg = vgg.to(P.device)

    settings = {"pix2pixhd": asdict(config), "setup": setup.as_dict(), "steps": steps,
                "seed": seed, "global_generator": _weights_digest(global_generator)}
    if blocks:                # the streets' run folders keep the settings they were written with
        settings["data"] = {"dataset": dataset_name, "seed": getattr(train_set, "seed", None)}
    run_path = Path(run_dir) if run_dir is not None else None
    eval_steps = sorted({int(s) for s in eval_at if 0 < int(s) <= steps})
    loop_cfg = LoopConfig(steps=steps, batch_size=setup.batch_size, seed=seed,
                          log_every=max(1, steps // 200), checkpoint_every=checkpoint_every,
                          callback_every=1 if eval_steps else 0, run_dir=run_path,
                          num_workers=P.num_workers, progress=progress,
                          channels_last=channels_last)
    loop = TrainingLoop(model.train_step, model.modules, model.optimizers, loop_cfg,
                        schedulers=model.schedulers,
                        model_configs={k: dict(getattr(unwrap(m), "config", {}))
                                       for k, m in model.modules.items()})
    resumed_from, extras = open_run(loop, run_path, settings, name, steps, progress)
    evals: list[tuple[int, HDEvaluation]] = [
        (s, from_plain(e, (HDEvaluation, FCNScore, BoundaryScore, SeamScore)))
        for s, e in extras.get("evals", []) if s <= loop.step]

    val_data = _stack(val_set) if val_set is not None else None

    def record(lp: TrainingLoop) -> None:
        if val_data is None or lp.step not in eval_steps:
            return
        evals.append((lp.step, evaluate_hd(model, val_data, segmenter, keep_images=False,
                                           seams=blocks)))
        if run_path is not None:
            save_checkpoint(run_path / _EXTRAS_FILE,
                            {"evals": [(s, to_plain(e.without_images())) for s, e in evals]})

    target = steps if stop_after is None else stop_after
    if loop.step < target:
        loop.config.steps = target
        try:
            loop.run(train_set, on_interval=record, desc=name)
        except KeyboardInterrupt:
            print(f"{name}: interrupted at step {loop.step} of {steps}; "
                  + (f"run the same call again to continue from the last checkpoint in "
                     f"{run_path}" if run_path is not None else
                     "nothing was saved (pass run_dir=... to make runs resumable)"))
            raise
        finally:
            loop.config.steps = steps
    release_training_state(model)       # a finished run keeps its networks, not Adam's state
    evaluation = evaluate_hd(model, val_data, segmenter, seams=blocks) \
        if val_data is not None else None
    return Pix2PixHDRun(name=name, model=model, setup=setup, history=loop.history,
                        evaluation=evaluation, evals=evals, val_pairs=val_data or {},
                        run_dir=run_path, seconds=loop.seconds, resumed_from=resumed_from,
                        steps=steps, step=loop.step)


def train_hd_variants(P: Profile, train_set: Dataset, val_set: Dataset | None,
                      variants: Mapping[str, Mapping[str, Any]], *,
                      run_root: str | Path | None = None, **common: Any
                      ) -> dict[str, Pix2PixHDRun]:
    """:func:`train_pix2pixhd` for every variant (``{name: keyword arguments}``), each in
    ``run_root / run_folder_name(name)``; ``common`` arguments go to all of them."""
    if not variants:
        raise ValueError("variants is empty: pass {name: {train_pix2pixhd arguments}}")
    runs: dict[str, Pix2PixHDRun] = {}
    for name, own in variants.items():
        run_dir = None if run_root is None else Path(run_root) / run_folder_name(name)
        runs[name] = train_pix2pixhd(P, train_set, val_set, name=name, run_dir=run_dir,
                                     **{**common, **own})
    return runs


def fit_feature_clusters(run: Pix2PixHDRun, train_set: Dataset, n_clusters: int = 10,
                         n: int | None = None, seed: int = 0) -> FeatureClusters:
    """K-means per class over the instance features E gives the training scenes (Sec. 3.4)."""
    if run.model.E is None:
        raise ValueError(f"run {run.name!r} has no feature encoder (use_features=False)")
    data = _stack(train_set, n)
    flags = run.model.E.training
    run.model.E.eval()
    try:
        feats = collect_instance_features(run.model.E, data["B"], data["instance_map"])
    finally:
        run.model.E.train(flags)
    return FeatureClusters.fit(feats, n_clusters=n_clusters, seed=seed)


# --------------------------------------------------------------------------- reporting

_COLUMNS: tuple[tuple[str, str], ...] = (
    ("pixel_acc", "per-pixel acc"), ("class_iou", "class IoU"),
    ("boundary_acc", "touching acc"), ("boundary_contrast", "touching contr."),
    ("class_boundary_acc", "class-edge acc"), ("seam_depth", "seam depth"),
    ("sharpness_inside", "sharp. inside"), ("l1", "L1"))


def _evaluation(item: Pix2PixHDRun | HDEvaluation, name: str) -> HDEvaluation:
    ev = item.evaluation if isinstance(item, Pix2PixHDRun) else item
    if not isinstance(ev, HDEvaluation):
        raise ValueError(f"{name!r} has no evaluation: pass a run trained with a val_set or an "
                         f"HDEvaluation")
    return ev


def hd_results_table(results: Mapping[str, Pix2PixHDRun | HDEvaluation], digits: int = 3
                     ) -> str:
    """Plain-text table: FCN-score, boundary accuracy / contrast between touching same-class
    instances, accuracy at class boundaries, sharpness inside regions, L1; the real photos'
    FCN-score as the last row."""
    if not results:
        raise ValueError("results is empty")
    evals = {k: _evaluation(v, k) for k, v in results.items()}
    width = max(len("real photos (upper bound)"), *(len(k) for k in evals)) + 2
    head = f"{'':<{width}}" + "".join(f"{label:>17}" for _, label in _COLUMNS)
    lines = [head, "-" * len(head)]

    def row(name: str, values: Mapping[str, float]) -> str:
        cells = [f"{'-':>17}" if values.get(k) is None or not math.isfinite(values[k])
                 else f"{values[k]:>17.{digits}f}" for k, _ in _COLUMNS]
        return f"{name:<{width}}" + "".join(cells)

    for name, ev in evals.items():
        lines.append(row(name, ev.as_dict()))
    real = next((e.fcn_real for e in evals.values() if e.fcn_real is not None), None)
    if real is not None:
        lines.append(row("real photos (upper bound)", {
            **real.as_dict(), "boundary_acc": 1.0, "boundary_contrast": 1.0,
            "class_boundary_acc": 1.0, "sharpness_inside": 1.0, "l1": 0.0}))
    counts = sorted({e.count for e in evals.values()})
    lines.append(f"({'/'.join(map(str, counts))} validation scenes; 'touching' = boundaries "
                 f"between touching objects of one class; numbers comparable within the course)")
    return "\n".join(lines)


def print_hd_results(results: Mapping[str, Pix2PixHDRun | HDEvaluation], digits: int = 3
                     ) -> None:
    """Print :func:`hd_results_table`."""
    print(hd_results_table(results, digits))


def touching_window(instance_map: torch.Tensor, size: tuple[int, int]) -> tuple[int, int]:
    """Top-left corner ``(y, x)`` of the ``size`` window of an (H, W) instance map that holds
    the most boundary pixels between touching instances of one class (for zoomed figures)."""
    from course_lib.metrics.boundary import instance_crossings

    m = instance_map.long()
    h, w = m.shape
    a, _, same = instance_crossings(m[None])
    heat = torch.zeros(h * w)
    heat[a[same]] = 1.0
    wh, ww = min(size[0], h), min(size[1], w)
    counts = F.avg_pool2d(heat.view(1, 1, h, w), (wh, ww), stride=1)[0, 0]
    idx = int(counts.argmax())
    return idx // counts.shape[1], idx % counts.shape[1]


def show_hd_outputs(outputs: Mapping[str, torch.Tensor], pairs: Dataset | Mapping[str, torch.Tensor],
                    n: int = 3, zoom: tuple[int, int] | None = None, size: float = 2.0
                    ):  # type: ignore[no-untyped-def]
    """Rows: labels, real photo, then each named output, for the first ``n`` scenes.

    With ``zoom=(h, w)`` every image is cropped to the window with the most boundaries
    between touching same-class objects (:func:`touching_window`), to see whether they merge.
    """
    from course_lib.viz import show_rows

    data = _stack(pairs, n)
    rows: dict[str, list[torch.Tensor]] = {"labels": [], "real": []}
    for name in outputs:
        rows[name] = []
    for i in range(min(n, data["B"].shape[0])):
        crop = (slice(None), slice(None))
        if zoom is not None:
            y, x = touching_window(data["instance_map"][i], zoom)
            crop = (slice(y, y + zoom[0]), slice(x, x + zoom[1]))
        rows["labels"].append(data["A"][i][:, crop[0], crop[1]])
        rows["real"].append(data["B"][i][:, crop[0], crop[1]])
        for name, out in outputs.items():
            img = out[i]
            if img.shape[-2:] != data["B"].shape[-2:]:
                img = F.interpolate(img[None], size=tuple(data["B"].shape[-2:]), mode="bilinear",
                                    align_corners=False)[0]
            rows[name].append(img[:, crop[0], crop[1]])
    return show_rows(rows, size=size)

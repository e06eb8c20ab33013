"""One-call BicycleGAN experiments: train a variant under a profile, then count its modes.

Zhu et al., "Toward Multimodal Image-to-Image Translation", NeurIPS 2017, compare
pix2pix+noise, cVAE-GAN, cLR-GAN and the hybrid BicycleGAN, and two ways of injecting z, on
*diversity* (LPIPS distance between outputs for the same input) and *realism* (a human fooling
rate), Sec. 4.1 and Fig. 6. On the course's shapes dataset the conditional distribution has
exactly K modes (:class:`~course_lib.data.SyntheticShapes`), so both can be counted::

    run = train_bicyclegan(P, train_set, val_set, variant="bicyclegan",
                           run_dir="runs/06/bicyclegan")
    print(run.evaluation)

* **Training** is :class:`~course_lib.train.bicyclegan.BicycleGAN` (the objective of Eq. 8, or
  one of its baselines, with the paper's weights and networks sized by the profile) run by the
  shared :class:`~course_lib.train.engine.TrainingLoop`: history, a ``tqdm`` bar and
  ``run_dir/last.pt``. Calling again with the same ``run_dir`` continues an interrupted run
  (bit-identically on a CPU) or reloads a finished one; other settings raise an error.
* **Evaluation** (:func:`evaluate_multimodal`) draws ``num_z`` codes from the prior for each
  validation input, classifies every output's fill with the dataset's closed-form classifier
  (:meth:`SyntheticShapes.classify`, -1 when it is no mode) and reports: modes covered over all
  outputs, the valid-mode rate (realism: the share of outputs that *are* one of the K fills,
  the course's stand-in for the paper's fooling rate and FCN-style check), the number of
  modes reached per input (what pix2pix+noise cannot do: it gives each input one answer), and
  the diversity, the mean L1 distance between outputs for the same input
  (:func:`~course_lib.metrics.diversity`; LPIPS in the paper). The same numbers for the real
  targets (every input filled with all K modes) are the upper bound.

The module sits above ``train``, ``metrics`` and ``data`` in the package's layering: it
imports them and nothing imports it.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn
from torch.utils.data import Dataset

from course_lib.data.shapes import classify_modes
from course_lib.experiment import (_stacked, open_run, plot_history, release_training_state,
                                   run_folder_name)
from course_lib.metrics.diversity import ModeCoverage, diversity, mode_coverage
from course_lib.models import at_test_time
from course_lib.models.bicyclegan import (BicycleDiscriminator, LatentEncoder,
                                          LatentUNetGenerator, encoder_blocks)
from course_lib.profiles import Profile, cap_steps, scale_to_cap
from course_lib.train.bicyclegan import VARIANTS, BicycleGAN, BicycleGANConfig
from course_lib.train.checkpoint import unwrap
from course_lib.train.plain import from_plain, to_plain
from course_lib.train.engine import History, LoopConfig, TrainingLoop

__all__ = [
    "default_bicycle_networks", "sample_outputs", "MultimodalEvaluation", "evaluate_multimodal",
    "real_modes_evaluation", "EncodedCheck", "encoded_mode_accuracy", "BicycleRun", "train_bicyclegan", "train_bicyclegan_variants",
    "data_description", "ShapesRecipe", "shapes_recipe",
    "multimodal_table", "print_multimodal", "show_multimodal_samples", "collapse_table",
    "print_collapse", "plot_z_use", "RECIPE_TRAIN_SIZE", "RECIPE_STEPS",
]

DEFAULT_NUM_Z = 12


# --------------------------------------------------------------------------- networks


def default_bicycle_networks(P: Profile, variant: str = "bicyclegan", where_add: str = "all",
                             nz: int = 8, conditional_D: bool = False, use_same_D: bool = False,
                             in_channels: int = 3, out_channels: int = 3, norm: str = "instance",
                             use_dropout: bool = True) -> dict[str, nn.Module | None]:
    """G, E, D and D2 of a variant, sized by the profile (the paper's at the ``gpu`` profile).

    G: :class:`~course_lib.models.LatentUNetGenerator` with ``P.unet_downs`` levels and
    ``P.ngf`` filters; E: :class:`~course_lib.models.LatentEncoder` with ``nef = P.ngf`` and
    the depth that pools an 8x8 map (:func:`~course_lib.models.bicyclegan.encoder_blocks`);
    all three with ``norm`` (instance normalization, BicycleGAN's default); G with dropout
    (``use_dropout``, on as in every official training script, ``--use_dropout``);
    D and D2: two-scale 70x70 PatchGANs with ``P.ndf`` filters (34x34 below 64 px). Missing
    ones are ``None``.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant={variant!r}: use one of {', '.join(map(repr, VARIANTS))}")
    if not isinstance(use_dropout, bool):
        raise ValueError(f"use_dropout={use_dropout!r} must be True (the official training "
                         f"scripts' --use_dropout) or False")
    d_in = in_channels + out_channels if conditional_D else out_channels
    # 70x70 patches (n_layers=3) unless the coarser scale's map would shrink below 2x2, where
    # instance norm is undefined (32 px images, the ci profile): then 34x34 (n_layers=2).
    n_layers = max(1, min(3, int(P.image_size).bit_length() - 1 - 3))
    nets: dict[str, nn.Module | None] = {
        "G": LatentUNetGenerator(in_channels, out_channels, nz=nz, num_downs=P.unet_downs,
                                 ngf=P.ngf, norm=norm, where_add=where_add,
                                 use_dropout=use_dropout),
        "E": None, "D": BicycleDiscriminator(d_in, ndf=P.ndf, n_layers=n_layers, norm=norm),
        "D2": None}
    if variant != "pix2pix+noise":
        nets["E"] = LatentEncoder(out_channels, nz=nz, nef=P.ngf,
                                  n_blocks=encoder_blocks(P.image_size), norm=norm)
    if variant == "bicyclegan" and not use_same_D:
        nets["D2"] = BicycleDiscriminator(d_in, ndf=P.ndf, n_layers=n_layers, norm=norm)
    return nets


# --------------------------------------------------------------------------- the recipe


@dataclass(frozen=True)
class ShapesRecipe:
    """The setting notebook 06 trains in: the profile to train with, the data, the optimiser.

    Attributes:
        profile: ``P`` with the image size, widths and batch size of the recipe.
        data: keyword arguments of :class:`~course_lib.data.SyntheticShapes` (size, fills,
            input style).
        train_size: training outlines (each with its one fill). Tied to ``steps``: G must be
            able to fit every training outline's own fill within the budget, or pix2pix+noise
            has no reason to drop z (see :func:`shapes_recipe`).
        config: the :class:`~course_lib.train.bicyclegan.BicycleGANConfig` (learning rate,
            schedule); the losses and their weights are the paper's.
        steps: steps per variant (the same budget for every variant compared).
        departures: each change from the paper's setting, with its reason.
    """

    profile: Profile
    data: dict[str, Any]
    train_size: int
    config: BicycleGANConfig
    steps: int
    departures: tuple[str, ...]

    def config_for(self, variant: str, steps: int | None = None, pix2pix_d: bool = False
                   ) -> BicycleGANConfig:
        """The training settings of ``variant`` for a run of ``steps`` (default: the recipe's;
        the learning rate decays linearly over the second half of the run).

        Every variant gets the same discriminators and GAN loss (BicycleGAN's: D sees the
        output alone, least squares), so that a comparison isolates the objective, as the
        paper's Fig. 6 does. ``pix2pix_d=True`` gives ``"pix2pix+noise"`` pix2pix's own D and
        loss instead, the way the authors built that baseline (pix2pix's model with their
        generator, BicycleGAN issue #96): a conditional D that sees (A, B) and the vanilla
        (cross-entropy) GAN loss. In the recipe's budget that baseline does not drop z
        (notebook 06, section 5).
        """
        if variant not in VARIANTS:
            raise ValueError(f"variant={variant!r}: use one of {', '.join(map(repr, VARIANTS))}")
        if not isinstance(pix2pix_d, bool):
            raise ValueError(f"pix2pix_d={pix2pix_d!r} must be True or False")
        if pix2pix_d and variant != "pix2pix+noise":
            raise ValueError(f"pix2pix_d=True is the pix2pix+noise baseline's option, not "
                             f"{variant!r}'s")
        steps = self.steps if steps is None else _positive(steps, "steps")
        config = replace(self.config, variant=variant, decay_start=steps // 2)
        if pix2pix_d:
            return replace(config, gan_mode="vanilla", conditional_D=True)
        return config

    def __str__(self) -> str:
        P, d = self.profile, self.data
        size = d["image_size"]
        return (f"{size}x{size} px, {d['fills']} fills, {d['inputs']} inputs, "
                f"{self.train_size} training outlines; ngf=ndf={P.ngf}, batch {P.batch_size}, "
                f"lr {self.config.lr:g}, {self.steps} steps per variant (constant, then linear "
                f"decay from step {self.config.decay_start})")


RECIPE_TRAIN_SIZE = 128
"""Training outlines of the recipe: few enough that G fits each one's fill in its steps."""
RECIPE_STEPS = 5000
"""Steps per variant in the recipe (about 3 minutes for BicycleGAN on one CPU thread)."""


def shapes_recipe(P: Profile, train_size: int | None = None) -> ShapesRecipe:
    """Where BicycleGAN's claim shows inside a laptop's budget (notebook 06).

    The claim has two halves: pix2pix+noise learns to ignore z, and BicycleGAN uses it to
    cover the modes. The first half has a mechanism (pix2pix Sec. 3.1, BicycleGAN Sec. 3.1):
    with one target per training input, the L1 term is smallest for the output that *is*
    that target, so once G can fit each training input's own target, any change with z only
    adds L1. That needs a training set G can fit in the budget: with 400 outlines and 3 000
    steps it cannot, z stays the cheapest route to a valid fill and the GAN term spreads it
    over the fills (pix2pix+noise then covered 6/6 fills, 4.09 per outline). So the training
    set is small, ``train_size`` outlines (128), and tied to the steps: more outlines need
    more steps.

    The paper trains at 256 px with 64 filters, batch 2 and Adam at 2e-4 for hundreds of
    thousands of images; on two CPU cores that is out of reach. What is kept is what the claim
    is about: the networks (U-Net with z in every encoder level and dropout as the official
    scripts train it, two-scale PatchGANs, the ResNet encoder), the losses and their weights
    (lambda_L1 = 10, lambda_KL = 0.01, lambda_latent = 0.5, two LSGAN terms), the order of the
    updates (G and E, then D) and the schedule's shape (constant, then linear decay from
    half-way). Every variant has the same discriminators and GAN loss
    (:meth:`ShapesRecipe.config_for`). What changes is listed in ``departures``.

    The ``ci`` profile keeps its tiny sizes (a smoke run); ``cpu`` and ``gpu`` use the recipe
    (the paper's setting is the command line's ``train bicyclegan`` without ``--profile``).
    """
    data: dict[str, Any] = {"image_size": 32, "fills": "solid", "inputs": "silhouette"}
    if P.name == "ci":
        prof = replace(P, image_size=32)
        steps = max(2, P.steps)
        default_size = P.train_size
    else:
        prof = replace(P, image_size=32, ngf=16, ndf=16, batch_size=16)
        steps = RECIPE_STEPS
        default_size = RECIPE_TRAIN_SIZE
    if train_size is None:
        train_size = default_size
    elif (isinstance(train_size, bool) or not isinstance(train_size, int)
          or train_size < prof.batch_size):
        raise ValueError(f"train_size={train_size!r}: use an int of at least one batch "
                         f"({prof.batch_size} outlines)")
    config = BicycleGANConfig(lr=5e-4, decay_start=steps // 2)
    departures = (
        "32 px and solid fills (the paper: 256 px photos): the mode is one global colour",
        "silhouette inputs (interior in mid grey): inside/outside is visible locally",
        f"{train_size} training outlines and {steps} steps: G can fit every training "
        "outline's own fill, the condition under which pix2pix+noise drops z",
        f"ngf = ndf = {prof.ngf}, batch {prof.batch_size} (the paper: 64, batch 2)",
        "Adam lr 5e-4 (the paper: 2e-4): the encoder -> G path learns the colour in the budget",
        "batch normalization (the paper: instance): the setting measured; notebook 06, "
        "section 2, compares the two",
    )
    return ShapesRecipe(profile=prof, data=data, train_size=train_size, config=config,
                        steps=steps, departures=departures)


# --------------------------------------------------------------------------- evaluation


@torch.no_grad()
def sample_outputs(generator: nn.Module, inputs: torch.Tensor, num_z: int = DEFAULT_NUM_Z,
                   seed: int = 0, batch_size: int = 64, z: torch.Tensor | None = None
                   ) -> torch.Tensor:
    """Outputs for ``num_z`` random codes per input: (N, S, C, H, W) on the CPU.

    Codes come from N(0, I) through a private generator seeded by ``seed`` (the global random
    state is untouched), or are given as ``z`` with shape (N, S, nz) or (S, nz) (the same
    codes for every input). G runs in eval mode (no dropout; batch norm uses its running
    statistics, so an output does not depend on the other codes in the batch; instance norm is
    the same in both modes) and its train/eval flags are restored afterwards.
    """
    if inputs.dim() != 4:
        raise ValueError(f"inputs must be (N, C, H, W), got {tuple(inputs.shape)}")
    nz = int(getattr(unwrap(generator), "nz", 0) or 0)
    if nz < 1:
        raise ValueError("the generator has no attribute nz: use LatentUNetGenerator")
    n = inputs.shape[0]
    if z is None:
        if isinstance(num_z, bool) or not isinstance(num_z, int) or num_z < 1:
            raise ValueError(f"num_z must be a positive int, got {num_z!r}")
        z = torch.randn(n, num_z, nz, generator=torch.Generator().manual_seed(seed))
    elif z.dim() == 2:
        z = z[None].expand(n, -1, -1)
    if z.dim() != 3 or z.shape[0] != n or z.shape[2] != nz:
        raise ValueError(f"z must be (N, S, nz) = ({n}, S, {nz}) or (S, {nz}), got "
                         f"{tuple(z.shape)}")
    s = z.shape[1]
    device = next(generator.parameters()).device
    flat_a = inputs.repeat_interleave(s, 0)                  # (N*S, C, H, W)
    flat_z = z.reshape(n * s, nz)
    outs = []
    with at_test_time(generator, "eval"):
        for i in range(0, n * s, batch_size):
            outs.append(generator(flat_a[i:i + batch_size].to(device),
                                  flat_z[i:i + batch_size].to(device)).float().cpu())
    return torch.cat(outs).reshape(n, s, *outs[0].shape[1:])


@dataclass(frozen=True)
class MultimodalEvaluation:
    """What :func:`evaluate_multimodal` measured.

    Attributes:
        coverage: the modes reached by the outputs (:class:`~course_lib.metrics.ModeCoverage`:
            ``covered`` of K, ``valid_rate``, ``histogram``, ``per_input_fraction``).
        num_modes: K.
        diversity: mean L1 distance between two outputs of the same input ([-1, 1] units).
        num_inputs, num_z: inputs evaluated and codes per input.
        mode_ids: (N, S) predicted mode of every output (-1: no mode).
        samples: the outputs (N, S, 3, H, W), or ``None``.
        target_rate: share of outputs with the fill of the input's own target (its pair's
            ``"mode"``; NaN when the pairs do not say). On *training* outlines it shows how
            far G has fitted its one target per outline; a G that ignores z and has fitted
            them all scores the valid rate, one that picks fills at random about a sixth of it.
    """

    coverage: ModeCoverage
    num_modes: int
    diversity: float
    num_inputs: int
    num_z: int
    mode_ids: torch.Tensor = field(repr=False, compare=False)
    samples: torch.Tensor | None = field(default=None, repr=False, compare=False)
    target_rate: float = float("nan")

    @property
    def covered(self) -> int:
        """Modes reached by at least one output."""
        return self.coverage.covered

    @property
    def valid_rate(self) -> float:
        """Share of outputs that are one of the K modes (realism)."""
        return self.coverage.valid_rate

    @property
    def modes_per_input(self) -> float:
        """Mean number of distinct modes among each input's ``num_z`` outputs."""
        # the fraction is a float32 mean: round away its last bits (1/6 * 6 = 1.00000003)
        return round(float(self.coverage.per_input_fraction or 0.0) * self.num_modes, 6)

    def as_dict(self) -> dict[str, float]:
        return {"modes_covered": float(self.covered), "valid_rate": self.valid_rate,
                "modes_per_input": self.modes_per_input, "diversity": self.diversity,
                "target_rate": self.target_rate}

    def without_images(self) -> MultimodalEvaluation:
        return replace(self, samples=None)

    def __str__(self) -> str:
        return (f"{self.covered}/{self.num_modes} modes covered, {self.valid_rate:.0%} of outputs "
                f"valid, {self.modes_per_input:.2f} modes per input, diversity "
                f"{self.diversity:.3f}  [{self.num_inputs} inputs x {self.num_z} codes]")


def _num_modes(pairs: Any, num_modes: int | None) -> int:
    k = num_modes if num_modes is not None else getattr(pairs, "num_modes", None)
    if k is None:
        raise ValueError("pass num_modes=K: the validation set does not say how many modes its "
                         "targets have (use SyntheticShapes)")
    return int(k)


def _fills(pairs: Any) -> str:
    """The fill set of shapes pairs (``"patterned"`` unless the dataset says otherwise)."""
    return str(getattr(pairs, "fills", "patterned"))


def _interiors(data: Mapping[str, torch.Tensor]) -> torch.Tensor:
    if "class_map" not in data:
        raise ValueError("mode classification needs each input's 'class_map' (interior = 1); "
                         "use SyntheticShapes pairs")
    return data["class_map"] == 1


def evaluate_multimodal(generator: nn.Module, pairs: Dataset | Mapping[str, torch.Tensor],
                        num_modes: int | None = None, num_z: int = DEFAULT_NUM_Z,
                        n: int | None = None, seed: int = 0, keep_images: bool = True,
                        fills: str | None = None) -> MultimodalEvaluation:
    """Sample ``num_z`` outputs per validation input and count modes, validity and diversity.

    Args:
        generator: ``G(a, z)``.
        pairs: shapes pairs (a dataset, an :class:`~course_lib.data.InMemoryPairs` or a dict of
            stacked ``"A"`` and ``"class_map"``).
        num_modes: K (default: ``pairs.num_modes``).
        num_z: codes drawn from N(0, I) per input.
        n: evaluate the first ``n`` inputs (default all).
        seed: seeds the codes.
        keep_images: keep the outputs in ``samples``.
        fills: the fill set of the targets (default: ``pairs.fills``, else ``"patterned"``).
    """
    k = _num_modes(pairs, num_modes)
    data = _stacked(pairs, n)
    samples = sample_outputs(generator, data["A"], num_z, seed)      # (N, S, 3, H, W)
    masks = _interiors(data)
    s = samples.shape[1]
    ids = classify_modes(samples.flatten(0, 1), masks.repeat_interleave(s, 0), k,
                         fills=fills or _fills(pairs))
    ids = ids.reshape(samples.shape[0], s)
    target_rate = float("nan")
    if "mode" in data:
        target_rate = float((ids == data["mode"].reshape(-1, 1).to(ids.dtype)).float().mean())
    return MultimodalEvaluation(
        coverage=mode_coverage(ids, k), num_modes=k,
        diversity=diversity(samples) if s > 1 else float("nan"),
        num_inputs=int(samples.shape[0]), num_z=s, mode_ids=ids,
        samples=samples if keep_images else None, target_rate=target_rate)


def real_modes_evaluation(pairs: Dataset, n: int | None = None) -> MultimodalEvaluation:
    """The upper bound: each validation outline filled with every one of its K modes.

    ``pairs`` must be shapes pairs that can render any mode (``all_modes(index)``), e.g.
    :class:`~course_lib.data.SyntheticShapes` or an :class:`~course_lib.data.InMemoryPairs`
    of it.
    """
    if not hasattr(pairs, "all_modes"):
        raise ValueError("the real-modes bound needs a dataset with all_modes(index), such as "
                         "SyntheticShapes (or InMemoryPairs of it)")
    data = _stacked(pairs, n)
    indices = data["index"].tolist() if "index" in data else list(range(data["A"].shape[0]))
    real = torch.stack([pairs.all_modes(int(i)) for i in indices])  # type: ignore[attr-defined]
    k = real.shape[1]
    masks = _interiors(data)
    ids = classify_modes(real.flatten(0, 1), masks.repeat_interleave(k, 0), k,
                         fills=_fills(pairs)).reshape(-1, k)
    return MultimodalEvaluation(coverage=mode_coverage(ids, k), num_modes=k,
                                diversity=diversity(real), num_inputs=real.shape[0], num_z=k,
                                mode_ids=ids, samples=real)


@dataclass(frozen=True)
class EncodedCheck:
    """What :func:`encoded_mode_accuracy` measured.

    Attributes:
        accuracy: share of reconstructions ``G(A, mu(B))`` whose nearest fill is B's own.
        chance: ``1 / K``, what a G that ignores its code scores on balanced data.
        num_inputs: validation pairs checked.
    """

    accuracy: float
    chance: float
    num_inputs: int

    def __str__(self) -> str:
        return (f"G(A, E(B)) has B's fill in {self.accuracy:.0%} of {self.num_inputs} pairs "
                f"(chance {self.chance:.0%})")


@torch.no_grad()
def encoded_mode_accuracy(generator: nn.Module, encoder: nn.Module,
                          pairs: Dataset | Mapping[str, torch.Tensor],
                          num_modes: int | None = None, n: int | None = None,
                          batch_size: int = 64) -> EncodedCheck:
    """The cVAE cycle B -> z -> B^ as a number: does E's code carry B's fill, and does G use it?

    E encodes each real target, G rebuilds it from the outline and E's mean
    (``G(A, mu(B))``, Zhu et al. 2017 Sec. 3.2), and both the target and the rebuild are
    assigned their *nearest* fill (:func:`~course_lib.data.shapes.mode_distances`, with no
    validity threshold: this asks whether the fill follows the code, not whether it is
    realistic). A G that ignores z scores about ``1 / K``; one that uses E's code, near 1.
    Both networks run in eval mode and their flags are restored afterwards.
    """
    from course_lib.data.shapes import mode_distances

    k = _num_modes(pairs, num_modes)
    data = _stacked(pairs, n)
    masks = _interiors(data)
    device = next(generator.parameters()).device
    rebuilt = []
    with at_test_time(generator, "eval"), at_test_time(encoder, "eval"):
        for i in range(0, data["A"].shape[0], batch_size):
            a = data["A"][i:i + batch_size].to(device)
            mu, _ = encoder(data["B"][i:i + batch_size].to(device))
            rebuilt.append(generator(a, mu).float().cpu())
    truth = mode_distances(data["B"], masks, k, _fills(pairs)).argmin(1)
    guess = mode_distances(torch.cat(rebuilt), masks, k, _fills(pairs)).argmin(1)
    return EncodedCheck(accuracy=float((guess == truth).float().mean()), chance=1.0 / k,
                        num_inputs=int(truth.numel()))


# --------------------------------------------------------------------------- a run


@dataclass
class BicycleRun:
    """The result of :func:`train_bicyclegan`.

    Attributes:
        name: a label for tables and figures.
        variant, where_add: the objective and the z injection.
        model: the :class:`~course_lib.train.bicyclegan.BicycleGAN` (``model.G``, ``model.E``).
        history: losses per logged step.
        val_pairs: the validation pairs as stacked tensors.
        evaluation: the final :class:`MultimodalEvaluation` (``None`` without a validation set).
        evals: ``[(step, MultimodalEvaluation)]`` of the periodic evaluations (``eval_every``).
        train_evaluation: the same numbers on the first ``train_eval`` *training* outlines
            (``None`` unless asked for): collapse shows first where G has fitted its targets.
        train_evals: the periodic evaluations on up to 16 of those training outlines.
        run_dir, seconds, resumed_from, steps, step: as in
            :class:`~course_lib.experiment.Pix2PixRun`.
    """

    name: str
    variant: str
    where_add: str
    model: BicycleGAN
    history: History
    val_pairs: dict[str, torch.Tensor]
    evaluation: MultimodalEvaluation | None
    evals: list[tuple[int, MultimodalEvaluation]]
    run_dir: Path | None
    seconds: float
    resumed_from: int | None
    steps: int
    step: int
    train_evaluation: MultimodalEvaluation | None = None
    train_evals: list[tuple[int, MultimodalEvaluation]] = field(default_factory=list)

    @property
    def G(self) -> nn.Module:
        return self.model.G

    @property
    def E(self) -> nn.Module | None:
        return self.model.E

    @property
    def finished(self) -> bool:
        return self.step >= self.steps

    def __repr__(self) -> str:
        where = f", run_dir={str(self.run_dir)!r}" if self.run_dir else ""
        return (f"BicycleRun({self.name!r}, {self.variant}, z to {self.where_add}, step "
                f"{self.step}/{self.steps}, {self.seconds:.0f} s{where})")

    def plot_history(self, **kwargs: Any):  # type: ignore[no-untyped-def]
        """:func:`~course_lib.experiment.plot_history` of this run (losses and D's outputs:
        raw, averaged over D's scales)."""
        kwargs.setdefault("d_output", "raw")
        return plot_history(self.history, title=self.name, **kwargs)


_EXTRAS_FILE = "extras.pt"


def _plain_value(value: Any) -> Any:
    """``value`` if JSON can hold it as it is (a tuple becomes a list), else ``None``."""
    if isinstance(value, (tuple, list)):
        items = [_plain_value(v) for v in value]
        return items if all(v is not None for v in items) else None
    return value if isinstance(value, (int, float, str, bool, type(None))) else None


def data_description(dataset: Any) -> dict[str, Any]:
    """What a run was trained on, for its ``run.json``: ``{"dataset", "image_size", "fills",
    "num_modes", "seed", "inputs"}`` read from ``dataset`` (an :class:`~course_lib.data.InMemoryPairs`
    delegates to the dataset it wraps). Values a dataset does not have are ``None``, so any
    paired dataset works; :func:`~course_lib.data.SyntheticShapes` fills them all in, e.g.
    ``{"dataset": "shapes", "image_size": 32, "fills": "solid", "num_modes": 6, "seed": 0,
    "inputs": "silhouette"}``.
    The gallery (``tools/make_gallery.py``) renders the validation outlines from it.
    """
    inner = getattr(dataset, "dataset", dataset)
    name = getattr(dataset, "dataset_name", None) or type(inner).__name__
    return {"dataset": _plain_value(name),
            **{key: _plain_value(getattr(dataset, key, None))
               for key in ("image_size", "fills", "num_modes", "seed", "inputs")}}


def _settings(config: BicycleGANConfig, steps: int, batch_size: int, seed: int,
              modules: Mapping[str, nn.Module], data: Mapping[str, Any] | None = None
              ) -> dict[str, Any]:
    settings = {"bicyclegan": asdict(config), "steps": steps, "batch_size": batch_size,
                "seed": seed,
                "models": {k: {"class": type(unwrap(m)).__name__,
                               **{a: v for a, v in getattr(unwrap(m), "config", {}).items()
                                  if isinstance(v, (int, float, str, bool, type(None)))}}
                           for k, m in modules.items()}}
    if data is not None:
        settings["data"] = dict(data)
    return settings


def _positive(value: Any, name: str, allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return value


def train_bicyclegan(P: Profile, train_set: Dataset, val_set: Dataset | None = None, *,
                     variant: str = "bicyclegan", where_add: str = "all", nz: int = 8,
                     norm: str = "instance", use_dropout: bool = True,
                     config: BicycleGANConfig | None = None, steps: int | None = None,
                     run_dir: str | Path | None = None, num_z: int = DEFAULT_NUM_Z,
                     eval_every: int = 0, train_eval: int = 0,
                     checkpoint_every: int | None = None,
                     stop_after: int | None = None, seed: int = 0, name: str | None = None,
                     progress: bool = True, amp: str | None = "profile",
                     channels_last: bool | None = None,
                     fused_adam: bool | None = None,
                     on_step: Callable[[int], None] | None = None) -> BicycleRun:
    """Train one BicycleGAN variant on ``train_set`` under profile ``P``, then count its modes.

    Args:
        P: the profile: batch size (even, for the hybrid's two halves), steps, widths, device.
        train_set: shapes pairs (dicts with ``"A"`` and ``"B"``), ideally an
            :class:`~course_lib.data.InMemoryPairs`.
        val_set: shapes pairs with ``"class_map"`` for :func:`evaluate_multimodal`; ``None``
            skips the evaluation.
        variant: ``"pix2pix+noise"``, ``"cvae-gan"``, ``"clr-gan"`` or ``"bicyclegan"``.
        where_add: inject z into the input only (``"input"``) or every encoder level
            (``"all"``, the official default).
        nz: latent size (8).
        norm: normalization of G, E and D: ``"instance"`` (the paper's), ``"batch"``, ``"none"``.
        use_dropout: dropout in G's decoder (on: every official training script passes
            ``--use_dropout``; :func:`~course_lib.models.bicyclegan.latent_dropout_levels`).
        config: a :class:`~course_lib.train.bicyclegan.BicycleGANConfig` (its ``variant`` is
            set from ``variant`` and its ``steps`` from the run's length).
        steps: length of the run; default ``P.steps``.
        run_dir: folder for ``last.pt``, ``history.csv`` and ``run.json``; a checkpoint with
            the same settings there is continued (or, if finished, only evaluated), one with
            other settings raises an error. ``None``: nothing on disk. ``run.json`` also
            records the training data (:func:`data_description`: dataset, size, fills,
            modes, seed), so a folder written before it did is refused as "other settings".
        num_z: codes per validation input in the evaluation.
        eval_every: also evaluate every this many steps (on up to 16 inputs); 0: only at the end.
        train_eval: also evaluate the first this many *training* outlines (at the end, and
            up to 16 of them every ``eval_every`` steps): ``run.train_evaluation`` and
            ``run.train_evals``; 0: not.
        checkpoint_every: write ``last.pt`` every this many steps (default about ten times).
        stop_after: train only up to this step and return (a later call continues).
        seed: seeds the networks' initial weights, the codes and the batch order.
        name: label of the run (default: the variant and the injection).
        progress: show a ``tqdm`` progress bar.
        channels_last: store the networks and image batches in channels_last memory format
            (faster convolutions under bf16 on CPUs and on recent GPUs); ``None`` (default):
            the profile's choice (``P.channels_last``, on with bf16 on a CPU).
        fused_adam: fused Adam kernels (speed only; checkpoints load either way); ``None``
            (default): the profile's choice (``P.fused_adam``).
        on_step: called with the step number after every step (progress from another
            process, :mod:`course_lib.side_by_side`).
        amp: ``"profile"``: ``config.amp`` if set, else ``P.amp`` (the profile's choice:
            mixed precision on CUDA, bf16 on a CPU with native bf16 at the cpu profile, see
            :mod:`course_lib.profiles`); ``None``, ``"bf16"`` or ``"fp16"`` override both.

    ``$COURSE_MAX_STEPS`` caps ``steps`` (and moves ``stop_after`` to the same place).
    """
    planned = _positive(P.steps if steps is None else steps, "steps")
    steps = cap_steps(planned)                     # $COURSE_MAX_STEPS, for dry runs
    num_z = _positive(num_z, "num_z")
    eval_every = _positive(eval_every, "eval_every", allow_zero=True)
    train_eval = _positive(train_eval, "train_eval", allow_zero=True)
    if not isinstance(use_dropout, bool):
        raise ValueError(f"use_dropout={use_dropout!r} must be True (the official training "
                         f"scripts' --use_dropout) or False")
    if checkpoint_every is None:
        checkpoint_every = max(1, steps // 10) if run_dir is not None else 0
    checkpoint_every = _positive(checkpoint_every, "checkpoint_every", allow_zero=True)
    if stop_after is not None:
        stop_after = scale_to_cap(_positive(stop_after, "stop_after"), planned, steps)
    n_train = len(train_set)  # type: ignore[arg-type]
    if n_train < P.batch_size:
        raise ValueError(f"train_set has {n_train} pairs, fewer than one batch of "
                         f"P.batch_size={P.batch_size}")
    if train_eval > n_train:
        raise ValueError(f"train_eval={train_eval}: the training set has only {n_train} "
                         f"outlines")
    config = replace(config or BicycleGANConfig(), variant=variant, steps=steps)
    if config.amp is None and amp == "profile":
        config = replace(config, amp=P.amp)        # mixed precision on CUDA, by device
    elif amp != "profile":
        config = replace(config, amp=amp)
    channels_last = P.channels_last if channels_last is None else bool(channels_last)
    fused_adam = P.fused_adam if fused_adam is None else bool(fused_adam)
    if variant == "bicyclegan" and P.batch_size % 2:
        raise ValueError(f"the hybrid splits each batch between its two branches: profile "
                         f"{P.name!r} has an odd batch size {P.batch_size}")
    name = name or f"{variant} (z to {where_add})"
    device = torch.device(P.device)

    probe = train_set[0]
    c_in, c_out = int(probe["A"].shape[0]), int(probe["B"].shape[0])
    torch.manual_seed(seed)
    nets = default_bicycle_networks(P, variant, where_add, nz, config.conditional_D,
                                    config.use_same_D, c_in, c_out, norm, use_dropout)
    for m in nets.values():
        if m is not None:
            m.to(device)
    assert nets["G"] is not None and nets["D"] is not None
    model = BicycleGAN(nets["G"], nets["E"], nets["D"], nets["D2"], config,
                       fused_adam=fused_adam)

    settings = _settings(config, steps, P.batch_size, seed, model.modules,
                         data=data_description(train_set))
    run_path = Path(run_dir) if run_dir is not None else None
    loop_cfg = LoopConfig(steps=steps, batch_size=P.batch_size, seed=seed,
                          log_every=max(1, steps // 500), checkpoint_every=checkpoint_every,
                          callback_every=eval_every, run_dir=run_path,
                          num_workers=P.num_workers, progress=progress,
                          channels_last=channels_last, on_step=on_step)
    loop = TrainingLoop(model.train_step, model.modules, model.optimizers, loop_cfg,
                        schedulers=model.schedulers,
                        model_configs={k: dict(getattr(unwrap(m), "config", {}))
                                       for k, m in model.modules.items()})
    resumed_from, extras = open_run(loop, run_path, settings, name, steps, progress)
    evals, train_evals = ([(s, from_plain(e, (MultimodalEvaluation, ModeCoverage)))
                           for s, e in extras.get(key, []) if s <= loop.step]
                          for key in ("evals", "train_evals"))

    val_data: dict[str, torch.Tensor] | None = None
    num_modes: int | None = None
    if val_set is not None:
        val_data = _stacked(val_set)
        num_modes = _num_modes(val_set, None)

    train_data: dict[str, torch.Tensor] | None = None
    if train_eval:
        train_data = _stacked(train_set, train_eval)
        num_modes = _num_modes(train_set, num_modes)

    def record(lp: TrainingLoop) -> None:
        if not eval_every or lp.step % eval_every:
            return
        for data, into, pairs in ((val_data, evals, val_set),
                                  (train_data, train_evals, train_set)):
            if data is None:
                continue
            sub = {k: v[:16] for k, v in data.items()}
            into.append((lp.step, evaluate_multimodal(model.G, sub, num_modes, num_z, seed=seed,
                                                      keep_images=False, fills=_fills(pairs))))
        if run_path is not None and (val_data is not None or train_data is not None):
            from course_lib.train.checkpoint import save_checkpoint

            save_checkpoint(run_path / _EXTRAS_FILE, {"evals": to_plain(evals),
                                                      "train_evals": to_plain(train_evals)})

    target = steps if stop_after is None else stop_after
    if loop.step < target:
        loop.config.steps = target
        try:
            loop.run(train_set, on_interval=record, desc=name)
        except KeyboardInterrupt:
            print(f"{name}: interrupted at step {loop.step} of {steps}; "
                  + (f"run the same call again to continue from the last checkpoint in {run_path}."
                     if run_path is not None else "pass run_dir=... to make runs resumable."))
            raise
        finally:
            loop.config.steps = steps
    release_training_state(model)       # a finished run keeps its networks, not Adam's state

    evaluation = train_evaluation = None
    if val_data is not None:
        evaluation = evaluate_multimodal(model.G, val_data, num_modes, num_z, seed=seed,
                                         fills=_fills(val_set))
    if train_data is not None:
        train_evaluation = evaluate_multimodal(model.G, train_data, num_modes, num_z, seed=seed,
                                               keep_images=False, fills=_fills(train_set))
    return BicycleRun(name=name, variant=variant, where_add=where_add, model=model,
                      history=loop.history, val_pairs=val_data or {}, evaluation=evaluation,
                      evals=evals, run_dir=run_path, seconds=loop.seconds,
                      resumed_from=resumed_from, steps=steps, step=loop.step,
                      train_evaluation=train_evaluation, train_evals=train_evals)


def train_bicyclegan_variants(P: Profile, train_set: Dataset, val_set: Dataset | None,
                              variants: Mapping[str, Mapping[str, Any]], *,
                              run_root: str | Path | None = None,
                              side_by_side: bool | None = None, **common: Any
                              ) -> dict[str, BicycleRun]:
    """:func:`train_bicyclegan` for each ``{name: keyword arguments}``; each run checkpoints
    into ``run_root / run_folder_name(name)``. ``common`` arguments go to every variant (a
    variant's own take precedence).

    ``side_by_side``: train the variants at the same time, one process and one CPU thread each
    (:mod:`course_lib.side_by_side`; on the course's 2-core machine pix2pix+noise and
    BicycleGAN for 500 steps each took 21.1 s side by side against 29.4 s one after the other
    on two threads, start-up of the two processes included: ``benchmarks/side_by_side.py``),
    then read each finished
    run back here and evaluate it. ``None`` (default): when ``P`` trains on a CPU with a core
    per variant and ``run_root`` is set (the runs travel through their folders); ``False``: in
    turn, in this process. The trained networks are the same either way (one thread each).
    """
    if not variants:
        raise ValueError("variants is empty: pass {name: {train_bicyclegan arguments}}")
    folders = [run_folder_name(name) for name in variants]
    if len(set(folders)) != len(folders):
        raise ValueError(f"two variants map to the same run folder: {folders}; rename them")
    for name, own in variants.items():
        if not isinstance(own, Mapping):
            raise ValueError(f"variant {name!r} must be a dict of train_bicyclegan arguments")
    from course_lib.side_by_side import run_side_by_side, side_by_side_available

    if side_by_side is None:
        side_by_side = (run_root is not None and len(variants) > 1
                        and side_by_side_available(P.device, len(variants)))
    elif side_by_side and run_root is None:
        raise ValueError("side_by_side=True needs run_root: the runs come back through their "
                         "run folders")
    dirs = {name: None if run_root is None else Path(run_root) / folder
            for name, folder in zip(variants, folders)}
    if side_by_side:
        jobs = {name: (train_bicyclegan, {"P": P, "train_set": train_set, "val_set": val_set,
                                          "name": name, "run_dir": dirs[name],
                                          **{**common, **own, "progress": False}})
                for name, own in variants.items()}
        totals = {name: cap_steps(int({**common, **own}.get("steps") or P.steps))
                  for name, own in variants.items()}
        run_side_by_side(jobs, totals, threads=1,
                         progress=bool({**common}.get("progress", True)))
    runs: dict[str, BicycleRun] = {}
    for name, own in variants.items():
        runs[name] = train_bicyclegan(P, train_set, val_set, name=name, run_dir=dirs[name],
                                      **{**common, **own})
    return runs


# --------------------------------------------------------------------------- reporting


def _evaluation_of(item: BicycleRun | MultimodalEvaluation, name: str) -> MultimodalEvaluation:
    ev = item.evaluation if isinstance(item, BicycleRun) else item
    if not isinstance(ev, MultimodalEvaluation):
        raise ValueError(f"{name!r} has no evaluation: train it with a val_set")
    return ev


def multimodal_table(results: Mapping[str, BicycleRun | MultimodalEvaluation],
                     real: MultimodalEvaluation | None = None) -> str:
    """A plain-text table: modes covered (of K), valid-mode rate, modes per input, diversity.

    ``real`` (from :func:`real_modes_evaluation`) adds the real targets' row as the bound.
    """
    if not results:
        raise ValueError("results is empty: pass {name: run or evaluation}")
    evals = {name: _evaluation_of(item, name) for name, item in results.items()}
    if real is not None:
        evals["real targets (all K modes)"] = real
    width = max(len(n) for n in evals) + 2
    cols = ("modes covered", "valid-mode rate", "modes per input", "diversity (L1)")
    head = f"{'':<{width}}" + "".join(f"{c:>17}" for c in cols)
    lines = [head, "-" * len(head)]
    for name, ev in evals.items():
        div = f"{ev.diversity:>17.3f}" if math.isfinite(ev.diversity) else f"{'-':>17}"
        lines.append(f"{name:<{width}}{f'{ev.covered} / {ev.num_modes}':>17}"
                     f"{ev.valid_rate:>17.0%}{ev.modes_per_input:>17.2f}{div}")
    first = next(iter(evals.values()))
    lines.append(f"({first.num_inputs} validation inputs x {first.num_z} random codes each; "
                 f"diversity is comparable within the course, not to the paper's LPIPS)")
    return "\n".join(lines)


def print_multimodal(results: Mapping[str, BicycleRun | MultimodalEvaluation],
                     real: MultimodalEvaluation | None = None) -> None:
    """Print :func:`multimodal_table`."""
    print(multimodal_table(results, real))


def collapse_table(runs: Mapping[str, BicycleRun]) -> str:
    """Collapse measured per input, on validation and on training outlines: valid fills per
    input and per-input diversity (the headline numbers: a model that gives each outline one
    answer scores at most 1 and about 0), then the fills covered over all outputs and the
    share of valid outputs (what a global count sees even when each input has one answer),
    and on training outlines the share of outputs with the outline's own training fill.

    Each run needs ``train_evaluation`` (``train_bicyclegan(..., train_eval=N)``).
    """
    if not runs:
        raise ValueError("runs is empty: pass {name: run}")
    for name, run in runs.items():
        _evaluation_of(run, name)
        if run.train_evaluation is None:
            raise ValueError(f"run {name!r} has no evaluation on training outlines: train it "
                             f"with train_eval=N")
    width = max(len(n) for n in runs) + 2
    head = (f"{'':<{width}}{'valid fills per input':>23}{'per-input diversity':>21}"
            f"{'fills covered':>15}{'valid':>8}{'own fill':>10}")
    lines = [head, f"{'':<{width}}{'val':>11}{'train':>12}{'val':>10}{'train':>11}"
                   f"{'val':>15}{'val':>8}{'train':>10}", "-" * len(head)]
    for name, run in runs.items():
        v, t = run.evaluation, run.train_evaluation
        assert v is not None and t is not None
        lines.append(f"{name:<{width}}{v.modes_per_input:>11.2f}{t.modes_per_input:>12.2f}"
                     f"{v.diversity:>10.3f}{t.diversity:>11.3f}"
                     f"{f'{v.covered} / {v.num_modes}':>15}{v.valid_rate:>8.0%}"
                     f"{t.target_rate:>10.0%}")
    first = next(iter(runs.values()))
    assert first.evaluation is not None and first.train_evaluation is not None
    lines.append(f"({first.evaluation.num_inputs} validation and "
                 f"{first.train_evaluation.num_inputs} training outlines x "
                 f"{first.evaluation.num_z} random codes each; own fill: outputs with the fill "
                 f"that outline had in training)")
    return "\n".join(lines)


def print_collapse(runs: Mapping[str, BicycleRun]) -> None:
    """Print :func:`collapse_table`."""
    print(collapse_table(runs))


def plot_z_use(runs: Mapping[str, BicycleRun], real: MultimodalEvaluation | None = None,
               size: tuple[float, float] = (10.0, 3.4)):  # type: ignore[no-untyped-def]
    """Per-input diversity and valid fills per input against the training step, on training
    outlines (solid) and validation outlines (dashed), one colour per run: where a model
    starts to use z and whether it keeps using it. ``real`` draws the real targets' level.
    Needs runs trained with ``eval_every`` (and ``train_eval`` for the training curves)."""
    import matplotlib.pyplot as plt

    if not runs:
        raise ValueError("runs is empty: pass {name: run}")
    if not any(run.evals for run in runs.values()):
        raise ValueError("no run has periodic evaluations: train with eval_every=N")
    fig, axes = plt.subplots(1, 2, figsize=size)
    metrics = (("diversity", "per-input diversity (L1)"),
               ("modes_per_input", "valid fills per input"))
    for ax, (key, label) in zip(axes, metrics):
        for i, (name, run) in enumerate(runs.items()):
            colour = f"C{i}"
            for evals, style, where in ((run.train_evals, "-", "training"),
                                        (run.evals, "--", "validation")):
                if evals:
                    ax.plot([s for s, _ in evals], [e.as_dict()[key] for _, e in evals], style,
                            color=colour, marker="o", markersize=3,
                            label=f"{name}, {where} outlines")
        if real is not None:
            ax.axhline(real.as_dict()[key], color="grey", linestyle=":", label="real targets")
        ax.set_xlabel("training step")
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Does G use z? 16 outlines x 12 codes at each evaluation", fontsize=10)
    fig.tight_layout()
    return fig


def show_multimodal_samples(runs: Mapping[str, BicycleRun], inputs: Sequence[int] = (0,),
                            num_z: int = 6, size: float = 1.5):  # type: ignore[no-untyped-def]
    """For each run and each chosen validation input: the input, then ``num_z`` outputs from
    the run's evaluation, each titled with its classified mode ("-" = no mode)."""
    import textwrap

    import matplotlib.pyplot as plt

    from course_lib.viz import to_display

    if not runs:
        raise ValueError("runs is empty: pass {name: run}")
    rows = [(name, i) for name in runs for i in inputs]
    label_width = 1.1       # inches for the horizontal row labels left of the first column
    fig, axes = plt.subplots(len(rows), num_z + 1,
                             figsize=(size * (num_z + 1) + label_width, size * len(rows)),
                             squeeze=False)
    for r, (name, i) in enumerate(rows):
        ev = _evaluation_of(runs[name], name)
        if ev.samples is None:
            raise ValueError(f"run {name!r} kept no samples")
        axes[r, 0].imshow(to_display(runs[name].val_pairs["A"][i]))
        label = "\n".join(textwrap.wrap(name, 12, break_long_words=False)) + f"\ninput {i}"
        axes[r, 0].set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
        for c in range(num_z + 1):
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        for c in range(min(num_z, ev.samples.shape[1])):
            axes[r, c + 1].imshow(to_display(ev.samples[i, c]))
            mode = int(ev.mode_ids[i, c])
            axes[r, c + 1].set_title("-" if mode < 0 else f"mode {mode}", fontsize=8)
    fig.tight_layout()
    return fig

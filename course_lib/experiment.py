"""One-call pix2pix experiments: train a variant under a profile, then measure it.

The notebooks compare variants of pix2pix (Isola et al., "Image-to-Image Translation with
Conditional Adversarial Networks", CVPR 2017): conditional vs unconditional D, U-Net vs
encoder-decoder, patch sizes, L1 / cGAN / L1+cGAN. Each comparison is the same recipe, which
this module runs in one line::

    run = train_pix2pix(P, train_set, val_set, config=Pix2PixConfig(conditional=False),
                        segmenter=seg, run_dir="runs/01/gan")
    print(run.evaluation)

* **Training** follows the paper's recipe (Sec. 3.3 and 6.2): the objective of Eq. 4 with
  one D update and one G update per step (:class:`~course_lib.train.pix2pix.Pix2Pix`),
  Adam (lr 2e-4, betas 0.5/0.999), the constant-then-linear learning-rate schedule, N(0, 0.02)
  weights. The loop (:class:`~course_lib.train.engine.TrainingLoop`) records the losses, shows
  a ``tqdm`` bar and writes ``run_dir/last.pt``; calling again with the same ``run_dir``
  continues an interrupted run, bit-identically on a CPU, or reloads a finished one.
* **Samples** of a few fixed validation inputs are kept in memory at regular steps (and in
  ``run_dir/extras.pt``), to watch the outputs form.
* **Evaluation** (:func:`evaluate_generator`) measures what Sec. 4 measures: the FCN-score
  (Sec. 4.1-4.2: per-pixel accuracy, per-class accuracy and class IoU of a segmenter trained
  on real photos, with the real photos' score as the upper bound), plus the course's
  sharpness ratio (high-frequency energy of outputs vs targets, over the whole image and
  inside class regions; L1 alone blurs, Sec. 3.1) and colour-spread ratio (how varied the
  outputs' colours are, cf. "Colorfulness", Sec. 4.2).

**Test-time behaviour** is an explicit argument, ``test_mode``: ``"paper"`` runs the generator
as in training, with dropout on and batch norm using the statistics of the test batch, which
is what the paper did (Sec. 3.3); ``"eval"`` is PyTorch's ``model.eval()`` (dropout off,
running averages). The two give different outputs; the notebooks use ``"paper"`` and show
both once.

The module sits above ``train``, ``metrics`` and ``viz`` in the package's layering: it
imports them and nothing imports it.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import torch
from torch import nn
from torch.utils.data import Dataset

from course_lib.data.cache import InMemoryPairs
from course_lib.metrics import (FCNScore, Segmenter, color_spread_ratio, fcn_score,
                                load_or_train_segmenter, sharpness_ratio)
from course_lib.models import PatchDiscriminator, UNetGenerator, at_test_time
from course_lib.profiles import Profile, cap_steps, scale_to_cap
from course_lib.train.checkpoint import load_checkpoint, save_checkpoint, unwrap
from course_lib.train.engine import History, LoopConfig, TrainingLoop
from course_lib.train.pix2pix import Pix2Pix, Pix2PixConfig
from course_lib.train.plain import from_plain, to_plain

__all__ = [
    "TestMode", "default_generator", "default_discriminator",
    "segmenter_for", "Evaluation", "generate", "evaluate_generator", "Pix2PixRun",
    "train_pix2pix", "train_variants", "run_folder_name", "release_training_state",
    "plot_history", "results_table", "print_results", "compare_outputs",
]

TestMode = Literal["paper", "eval"]
TEST_MODES: tuple[str, ...] = ("paper", "eval")

# Steps of the cached FCN-score segmenter per profile (notebook 00 trains it with the same
# numbers, so every notebook loads the same cached network).
SEGMENTER_STEPS: dict[str, int] = {"ci": 100}
DEFAULT_SEGMENTER_STEPS = 400


# --------------------------------------------------------------------------- data


def _stacked(pairs: Dataset | Mapping[str, torch.Tensor], n: int | None = None
             ) -> dict[str, torch.Tensor]:
    """``{"A", "B", "class_map"?, "mode"?}`` as stacked tensors from a dataset or a dict of
    stacks (``"mode"``: each shapes pair's fill, for the share of outputs with their own)."""
    if isinstance(pairs, Mapping):
        out = {k: v for k, v in pairs.items() if torch.is_tensor(v)}
    elif isinstance(pairs, InMemoryPairs):
        out = {k: pairs.stacked(k) for k in ("A", "B", "class_map", "mode")
               if k in pairs.keys()}
    else:
        return _stacked(InMemoryPairs(pairs, n, exact=True, progress=False))
    if "A" not in out or "B" not in out:
        raise ValueError(f"evaluation needs the inputs 'A' and the targets 'B'; got keys "
                         f"{sorted(out)}")
    if n is not None:
        out = {k: v[:n] for k, v in out.items()}
    return out


# --------------------------------------------------------------------------- models


def default_generator(P: Profile, in_channels: int = 3, out_channels: int = 3,
                      **overrides: Any) -> UNetGenerator:
    """pix2pix's U-Net (Appendix 6.1.1) sized by the profile: ``P.unet_downs`` levels (down
    to 1x1, 8 at 256 px as in the paper) and ``P.ngf`` filters. ``overrides`` go to
    :class:`~course_lib.models.UNetGenerator` (e.g. ``skip=False``, ``use_dropout=False``)."""
    kwargs: dict[str, Any] = dict(in_channels=in_channels, out_channels=out_channels,
                                  num_downs=P.unet_downs, ngf=P.ngf)
    kwargs.update(overrides)
    return UNetGenerator(**kwargs)


def default_discriminator(P: Profile, conditional: bool = True, in_channels: int = 3,
                          out_channels: int = 3, **overrides: Any) -> PatchDiscriminator:
    """The 70x70 PatchGAN (``n_layers=3``, Sec. 3.2.2) with ``P.ndf`` filters.

    A conditional D sees the input and the output concatenated (``in_channels +
    out_channels`` channels); an unconditional one sees only the output. ``overrides`` go
    to :class:`~course_lib.models.PatchDiscriminator` (e.g. ``n_layers=1`` for 16x16).
    """
    kwargs: dict[str, Any] = dict(
        in_channels=in_channels + out_channels if conditional else out_channels,
        ndf=P.ndf, n_layers=3)
    kwargs.update(overrides)
    return PatchDiscriminator(**kwargs)


def segmenter_for(P: Profile, train_set: Dataset, name: str | None = None,
                  n: int | None = None, progress: bool = True) -> Segmenter:
    """The FCN-score segmenter of a dataset, trained on its REAL target photos (cached).

    Uses the first ``n`` pairs (default ``P.train_size``) of ``train_set`` and the same
    settings as notebook 00, so that all notebooks share one cached network per dataset
    and resolution (see :func:`~course_lib.metrics.load_or_train_segmenter`).
    """
    n = min(len(train_set), P.train_size) if n is None else n  # type: ignore[arg-type]
    pairs = _stacked(train_set, n)
    if "class_map" not in pairs:
        raise ValueError("the FCN-score needs class maps: the training set's items have no "
                         "'class_map' (use a procedural dataset such as SyntheticFacades)")
    num_classes = getattr(train_set, "num_classes", None) or int(pairs["class_map"].max()) + 1
    name = name or getattr(train_set, "dataset_name", None)
    if not name:
        raise ValueError("pass name='...' to name the segmenter's cache file")
    size = tuple(pairs["B"].shape[-2:])
    return load_or_train_segmenter(
        name, size if size[0] != size[1] else size[0], pairs["B"], pairs["class_map"],
        num_classes=num_classes, steps=SEGMENTER_STEPS.get(P.name, DEFAULT_SEGMENTER_STEPS),
        progress=progress)


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate_generator` measured on one set of validation pairs.

    Attributes:
        fcn: FCN-score of the generated photos (pix2pix Sec. 4.1; Table 1).
        fcn_real: the same segmenter on the real photos: the upper bound ("ground truth").
        sharpness: high-frequency energy of outputs / targets over whole images (1 = as
            sharp as real; dominated by the edges between regions).
        sharpness_inside: the same inside class regions, away from their boundaries: the
            texture that L1 alone averages away.
        color_spread: spread of the outputs' mean colours / that of the targets (1 = as
            varied as real, lower = washed-out, "average" colours).
        l1: mean absolute difference to the targets (in [0, 2]; low is not the goal of a
            GAN: a sharp, plausible photo with different brick phase has a high L1).
        test_mode: ``"paper"`` or ``"eval"`` (see the module docstring).
        count: number of pairs evaluated.
        fake: the generated images (N, 3, H, W) on the CPU, for display (``None`` in the
            periodic evaluations kept during training).
    """

    fcn: FCNScore | None
    fcn_real: FCNScore | None
    sharpness: float
    sharpness_inside: float
    color_spread: float
    l1: float
    test_mode: str
    count: int
    fake: torch.Tensor | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, float]:
        """The numbers as a flat dict (FCN-score keys are ``pixel_acc``, ``class_acc``,
        ``class_iou``; the real-photo bound gets a ``real_`` prefix)."""
        out: dict[str, float] = {}
        if self.fcn is not None:
            out.update(self.fcn.as_dict())
        if self.fcn_real is not None:
            out.update({f"real_{k}": v for k, v in self.fcn_real.as_dict().items()})
        out.update(sharpness=self.sharpness, sharpness_inside=self.sharpness_inside,
                   color_spread=self.color_spread, l1=self.l1)
        return out

    def without_images(self) -> Evaluation:
        return replace(self, fake=None)

    def __str__(self) -> str:
        parts = [f"FCN-score: {self.fcn}" if self.fcn is not None else "no FCN-score",
                 f"sharpness {self.sharpness:.2f} (inside regions {self.sharpness_inside:.2f})",
                 f"colour spread {self.color_spread:.2f}", f"L1 {self.l1:.3f}"]
        text = " | ".join(parts) + f"  [{self.count} pairs, test mode {self.test_mode!r}]"
        if self.fcn_real is not None:
            text += f"\n  real photos (upper bound): {self.fcn_real}"
        return text


def _check_test_mode(test_mode: str) -> None:
    if test_mode not in TEST_MODES:
        raise ValueError(f"test_mode={test_mode!r}: use 'paper' (dropout on and batch norm with "
                         f"the test batch's statistics, as Isola et al. Sec. 3.3) or 'eval' "
                         f"(model.eval(): no dropout, running averages)")


@torch.no_grad()
def generate(generator: nn.Module, inputs: torch.Tensor, test_mode: TestMode = "paper",
             batch_size: int = 1, seed: int = 0) -> torch.Tensor:
    """Run ``generator`` on ``inputs`` (N, C, H, W) at test time; returns CPU outputs.

    The generator's train/eval flags and batch-norm running statistics are restored
    afterwards, and the global random state is untouched (dropout draws from a private
    stream seeded by ``seed``), so calling this in the middle of training changes nothing.
    With ``test_mode="paper"``, batch norm normalises each batch of ``batch_size`` images
    with its own statistics, so the outputs depend on ``batch_size``: use the training one.
    """
    _check_test_mode(test_mode)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    device = next(generator.parameters()).device
    outs = []
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), at_test_time(generator, test_mode):
        torch.manual_seed(seed)
        for start in range(0, inputs.shape[0], batch_size):
            outs.append(generator(inputs[start:start + batch_size].to(device)).float().cpu())
    return torch.cat(outs)


def evaluate_generator(generator: nn.Module, pairs: Dataset | Mapping[str, torch.Tensor],
                       segmenter: Segmenter | None, test_mode: TestMode = "paper",
                       batch_size: int = 1, n: int | None = None, seed: int = 0,
                       margin: int = 2, keep_images: bool = True) -> Evaluation:
    """Translate validation inputs and measure the outputs as pix2pix Sec. 4 does.

    Args:
        generator: maps inputs ``A`` to photos in [-1, 1].
        pairs: a dataset of dicts with ``"A"``, ``"B"`` and ``"class_map"`` (or a dict of the
            stacked tensors, or an :class:`~course_lib.data.InMemoryPairs`).
        segmenter: the dataset's FCN-score segmenter (:func:`segmenter_for`); ``None`` skips
            the FCN-score.
        test_mode: ``"paper"`` (dropout on, batch statistics of the test batch; Sec. 3.3) or
            ``"eval"`` (``model.eval()``).
        batch_size: images per forward pass; in ``"paper"`` mode also the batch whose
            statistics batch norm uses, so pass the training batch size.
        n: evaluate the first ``n`` pairs (default all).
        seed: seeds the dropout masks of ``"paper"`` mode.
        margin: pixels kept away from class boundaries by the "inside regions" sharpness.
        keep_images: keep the generated images in ``Evaluation.fake``.

    Returns:
        an :class:`Evaluation`.
    """
    data = _stacked(pairs, n)
    fake = generate(generator, data["A"], test_mode, batch_size, seed)
    real = data["B"].float().cpu()
    if fake.shape != real.shape:
        raise ValueError(f"the generator's outputs {tuple(fake.shape)} and the targets "
                         f"{tuple(real.shape)} differ in shape")
    class_map = data.get("class_map")
    fcn = fcn_real = None
    if segmenter is not None:
        if class_map is None:
            raise ValueError("the FCN-score needs 'class_map' in the pairs; pass "
                             "segmenter=None to skip it")
        seg_device = next(segmenter.parameters()).device
        fcn = fcn_score(segmenter, fake.to(seg_device), class_map.to(seg_device))
        fcn_real = fcn_score(segmenter, real.to(seg_device), class_map.to(seg_device))
    inside = (sharpness_ratio(fake, real, class_map, margin=margin) if class_map is not None
              else float("nan"))
    return Evaluation(
        fcn=fcn, fcn_real=fcn_real,
        sharpness=sharpness_ratio(fake, real),
        sharpness_inside=inside,
        color_spread=color_spread_ratio(fake, real) if fake.shape[0] > 1 else float("nan"),
        l1=float((fake - real).abs().mean()),
        test_mode=test_mode, count=int(fake.shape[0]),
        fake=fake if keep_images else None)


# --------------------------------------------------------------------------- a run


@dataclass
class Pix2PixRun:
    """The result of :func:`train_pix2pix`.

    Attributes:
        name: a label for tables and figures.
        model: the :class:`~course_lib.train.pix2pix.Pix2Pix` (``model.G``, ``model.D``).
        history: losses and D's mean probabilities per logged step.
        samples: ``[(step, outputs)]`` for the fixed sample inputs ``sample_pairs["A"]``.
        sample_pairs: ``{"A": inputs, "B": targets}`` of the samples.
        val_pairs: the validation pairs as stacked tensors (``"A"``, ``"B"``, ``"class_map"``);
            ``evaluation.fake[i]`` is the output for ``val_pairs["A"][i]``.
        evaluation: the final :class:`Evaluation` (``None`` without a validation set).
        evals: ``[(step, Evaluation)]`` from the periodic evaluations (``eval_every``).
        run_dir: where the checkpoint lives (``None``: in memory only).
        seconds: training time so far (all sessions of a resumed run).
        resumed_from: the step the run was resumed at, or ``None`` if it started afresh.
        steps: the planned length of the run.
    """

    name: str
    model: Pix2Pix
    history: History
    samples: list[tuple[int, torch.Tensor]]
    sample_pairs: dict[str, torch.Tensor]
    val_pairs: dict[str, torch.Tensor]
    evaluation: Evaluation | None
    evals: list[tuple[int, Evaluation]]
    run_dir: Path | None
    seconds: float
    resumed_from: int | None
    steps: int
    step: int

    @property
    def G(self) -> nn.Module:
        return self.model.G

    @property
    def D(self) -> nn.Module | None:
        return self.model.D

    @property
    def finished(self) -> bool:
        return self.step >= self.steps

    def __repr__(self) -> str:
        where = f", run_dir={str(self.run_dir)!r}" if self.run_dir else ""
        return (f"Pix2PixRun({self.name!r}, step {self.step}/{self.steps}, "
                f"{self.seconds:.0f} s{where})")

    def show_samples(self, max_rows: int = 6, size: float = 1.6):  # type: ignore[no-untyped-def]
        """The sample inputs, targets and outputs at (up to ``max_rows``) recorded steps."""
        from course_lib.viz import show_rows

        if not self.samples:
            raise ValueError(f"run {self.name!r} kept no samples (sample_every=0)")
        picks = self.samples
        if len(picks) > max_rows:
            idx = torch.linspace(0, len(picks) - 1, max_rows).round().long().tolist()
            picks = [picks[i] for i in sorted(set(idx))]
        rows: dict[str, Sequence[torch.Tensor]] = {"input": list(self.sample_pairs["A"]),
                                                   "target": list(self.sample_pairs["B"])}
        for step, out in picks:
            rows[f"step {step}"] = list(out)
        return show_rows(rows, size=size)

    def plot_history(self, **kwargs: Any):  # type: ignore[no-untyped-def]
        """:func:`plot_history` of this run."""
        return plot_history(self.history, title=self.name, **kwargs)


_RUN_FILE = "run.json"
_EXTRAS_FILE = "extras.pt"


def _settings(config: Pix2PixConfig, steps: int, batch_size: int, seed: int,
              modules: Mapping[str, nn.Module]) -> dict[str, Any]:
    """What must agree between a checkpoint and the call that resumes it."""
    return {"pix2pix": asdict(config), "steps": steps, "batch_size": batch_size, "seed": seed,
            "models": {k: {"class": type(unwrap(m)).__name__,
                           **{a: v for a, v in getattr(unwrap(m), "config", {}).items()
                              if isinstance(v, (int, float, str, bool, type(None)))}}
                       for k, m in modules.items()}}


def _check_same_settings(run_dir: Path, wanted: dict[str, Any]) -> None:
    path = run_dir / _RUN_FILE
    if not path.is_file():
        return
    try:
        stored = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err}): it was damaged or edited by hand; "
                         f"restore it, or delete {run_dir} to start this run afresh") from None
    if stored == json.loads(json.dumps(wanted)):
        return
    diffs = []
    for key in sorted(set(stored) | set(wanted)):
        a, b = stored.get(key), json.loads(json.dumps(wanted.get(key)))
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                if a.get(k) != b.get(k):
                    diffs.append(f"{key}.{k}: {a.get(k)!r} in the checkpoint, {b.get(k)!r} now")
        elif a != b:
            diffs.append(f"{key}: {a!r} in the checkpoint, {b!r} now")
    raise ValueError(f"{run_dir} holds a run with other settings ({'; '.join(diffs)}). Pass "
                     f"another run_dir, or delete {run_dir} to start this run afresh.")


def open_run(loop: TrainingLoop, run_path: Path | None, settings: dict[str, Any], name: str,
             steps: int, progress: bool) -> tuple[int | None, dict[str, Any]]:
    """Continue the run in ``run_path`` if there is one; shared by every ``train_*`` helper.

    Refuses a folder written with other settings, resumes ``loop`` from its ``last.pt``,
    writes ``run.json`` and returns ``(resumed_from, extras)``: the step it continued from
    (None for a fresh run) and the saved ``extras.pt`` (samples, evaluations; ``{}`` if none).
    Callers keep only extras recorded up to ``loop.step``; later ones are redone.
    """
    if run_path is None:
        return None, {}
    _check_same_settings(run_path, settings)
    try:
        resumed = loop.resume()
    except (RuntimeError, KeyError) as err:
        raise ValueError(f"cannot continue the run in {run_path}: {err}. Delete the folder "
                         f"to start afresh, or pass another run_dir.") from err
    resumed_from: int | None = None
    extras: dict[str, Any] = {}
    if resumed:
        resumed_from = loop.step
        extras_path = run_path / _EXTRAS_FILE
        if extras_path.is_file():
            extras = dict(load_checkpoint(extras_path))
        if progress:
            state = "finished" if loop.step >= steps else "continuing"
            print(f"{name}: {state} the run in {run_path} from step {loop.step} of {steps}")
    run_path.mkdir(parents=True, exist_ok=True)
    (run_path / _RUN_FILE).write_text(json.dumps(settings, indent=1))
    return resumed_from, extras


def _positive(value: Any, name: str, allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return value


def train_pix2pix(P: Profile, train_set: Dataset, val_set: Dataset | None = None, *,
                  config: Pix2PixConfig | None = None,
                  generator: nn.Module | None = None,
                  discriminator: nn.Module | None = None,
                  steps: int | None = None,
                  run_dir: str | Path | None = None,
                  segmenter: Segmenter | None = None,
                  test_mode: TestMode = "paper",
                  sample_every: int | None = None,
                  num_samples: int = 4,
                  eval_every: int = 0,
                  checkpoint_every: int | None = None,
                  stop_after: int | None = None,
                  seed: int = 0,
                  name: str = "pix2pix",
                  progress: bool = True,
                  channels_last: bool | None = None,
                  fused_adam: bool | None = None,
                  amp: str | None = "profile") -> Pix2PixRun:
    """Train a pix2pix variant on ``train_set`` under profile ``P``, then evaluate it.

    The training step is the paper's (Sec. 3.3, Eq. 4; Adam and schedule of Sec. 6.2); the
    variant is chosen by ``config`` (``use_gan``, ``use_l1``, ``conditional``, ``gan_mode``,
    ``lambda_l1``) and by the networks.

    Args:
        P: the profile: batch size, steps, widths, device, data-loader workers.
        train_set: paired training data (dicts with ``"A"`` and ``"B"``); wrap procedural
            datasets in :class:`~course_lib.data.InMemoryPairs` so each pair is rendered once.
        val_set: pairs for the samples and the evaluation (with ``"class_map"`` for the
            FCN-score and the inside-regions sharpness); ``None`` skips both.
        config: the :class:`~course_lib.train.pix2pix.Pix2PixConfig`; its ``steps`` is set
            to the run's length (the learning rate decays over the second half of it).
        generator: default :func:`default_generator` (U-Net sized by ``P``).
        discriminator: default :func:`default_discriminator` (70x70 PatchGAN; conditional
            or not as ``config.conditional``); not built when ``config.use_gan`` is False.
        steps: length of the run; default ``P.steps``.
        run_dir: folder for ``last.pt`` (checkpoint), ``history.csv``, ``run.json`` (the
            settings) and ``extras.pt`` (samples). If it holds a checkpoint of the same
            settings the run continues from it (an interrupted run resumes, a finished one
            is only evaluated); other settings raise an error. ``None``: nothing on disk.
        segmenter: FCN-score segmenter (:func:`segmenter_for`); ``None`` skips the FCN-score.
        test_mode: how the generator runs for samples and evaluations: ``"paper"`` or
            ``"eval"`` (see :func:`evaluate_generator`).
        sample_every: record outputs on ``num_samples`` fixed validation inputs every this
            many steps (0: never); default about ten times per run.
        num_samples: how many validation inputs the samples show.
        eval_every: also run :func:`evaluate_generator` every this many steps (0: only at
            the end); the results go to ``run.evals``.
        checkpoint_every: write ``run_dir/last.pt`` every this many steps; default about ten
            times per run (only with a ``run_dir``).
        stop_after: train only up to this step and return (a later call with the same
            ``run_dir`` continues); for training in chunks.
        seed: seeds the networks' initial weights, dropout and the batch order.
        name: label of the run in tables and figures.
        progress: show a ``tqdm`` progress bar.
        channels_last: store the networks and batches in channels_last memory format (faster
            convolutions under bf16 on CPUs and on recent GPUs, usually together with
            ``config.amp="bf16"``; see ``benchmarks/train_speed.py --paper``); ``None``
            (default): the profile's choice (``P.channels_last``, on with bf16 on a CPU).
            Mixed precision itself is ``config.amp``.
        fused_adam: fused Adam kernels (speed only; checkpoints load either way); ``None``
            (default): the profile's choice (``P.fused_adam``).
        amp: ``"profile"`` (default): ``config.amp`` if set, else the profile's choice for
            its device (``P.amp``: bf16 on a CPU with native bf16 at the cpu profile, else
            none on a CPU; bf16, or fp16 with a gradient scaler, on CUDA; see
            :mod:`course_lib.profiles`); ``None``, ``"bf16"`` or ``"fp16"`` override both.

    ``$COURSE_MAX_STEPS`` caps ``steps`` (and moves ``stop_after`` to the same place in the
    shorter run) for dry runs; the progress bar says so.

    Returns:
        a :class:`Pix2PixRun`.
    """
    _check_test_mode(test_mode)
    planned = _positive(P.steps if steps is None else steps, "steps")
    steps = cap_steps(planned)                     # $COURSE_MAX_STEPS, for dry runs
    num_samples = _positive(num_samples, "num_samples")
    eval_every = _positive(eval_every, "eval_every", allow_zero=True)
    if sample_every is None:
        sample_every = max(1, steps // 10)
    sample_every = _positive(sample_every, "sample_every", allow_zero=True)
    if checkpoint_every is None:
        checkpoint_every = max(1, steps // 10) if run_dir is not None else 0
    checkpoint_every = _positive(checkpoint_every, "checkpoint_every", allow_zero=True)
    if stop_after is not None:
        stop_after = scale_to_cap(_positive(stop_after, "stop_after"), planned, steps)
    n_train = len(train_set)  # type: ignore[arg-type]
    if n_train < P.batch_size:
        raise ValueError(f"train_set has {n_train} pairs, fewer than one batch of "
                         f"P.batch_size={P.batch_size}")
    config = replace(config or Pix2PixConfig(), steps=steps)
    if config.amp is None and amp == "profile":
        config = replace(config, amp=P.amp)        # mixed precision on CUDA, by device
    elif amp != "profile":
        config = replace(config, amp=amp)
    channels_last = P.channels_last if channels_last is None else bool(channels_last)
    fused_adam = P.fused_adam if fused_adam is None else bool(fused_adam)
    device = torch.device(P.device)

    probe = train_set[0]
    c_in, c_out = int(probe["A"].shape[0]), int(probe["B"].shape[0])
    torch.manual_seed(seed)
    if generator is None:
        generator = default_generator(P, c_in, c_out)
    if config.use_gan and discriminator is None:
        discriminator = default_discriminator(P, config.conditional, c_in, c_out)
    if not config.use_gan:
        discriminator = None
    if discriminator is not None:
        d_in = getattr(unwrap(discriminator), "in_channels", None)
        expected = c_in + c_out if config.conditional else c_out
        if d_in is not None and d_in != expected:
            kind = (f"a conditional D sees input and output concatenated ({c_in} + {c_out} "
                    f"= {expected} channels)" if config.conditional else
                    f"an unconditional D sees only the output ({c_out} channels)")
            raise ValueError(f"the discriminator takes {d_in} channels but {kind}: build it "
                             f"with in_channels={expected}, or change config.conditional")
    generator.to(device)
    if discriminator is not None:
        discriminator.to(device)
    model = Pix2Pix(generator, discriminator, config, fused_adam=fused_adam)

    settings = _settings(config, steps, P.batch_size, seed, model.modules)
    run_path = Path(run_dir) if run_dir is not None else None
    loop_cfg = LoopConfig(steps=steps, batch_size=P.batch_size, seed=seed,
                          log_every=max(1, steps // 1000), checkpoint_every=checkpoint_every,
                          callback_every=math.gcd(sample_every, eval_every),
                          run_dir=run_path, num_workers=P.num_workers, progress=progress,
                          channels_last=channels_last)
    loop = TrainingLoop(model.train_step, model.modules, model.optimizers, loop_cfg,
                        schedulers=model.schedulers,
                        model_configs={k: dict(getattr(unwrap(m), "config", {}))
                                       for k, m in model.modules.items()})

    resumed_from, extras = open_run(loop, run_path, settings, name, steps, progress)
    # Keep what was recorded up to the checkpoint; later entries are redone.
    samples: list[tuple[int, torch.Tensor]] = [(s, x) for s, x in extras.get("samples", [])
                                               if s <= loop.step]
    evals: list[tuple[int, Evaluation]] = [
        (s, from_plain(e, (Evaluation, FCNScore))) for s, e in extras.get("evals", [])
        if s <= loop.step]

    sample_pairs: dict[str, torch.Tensor] = {}
    val_data: dict[str, torch.Tensor] | None = None
    if val_set is not None:
        val_data = _stacked(val_set)
        sample_pairs = {"A": val_data["A"][:num_samples], "B": val_data["B"][:num_samples]}

    def save_extras() -> None:
        if run_path is not None:
            save_checkpoint(run_path / _EXTRAS_FILE, {
                "samples": samples,
                "evals": [(s, to_plain(e.without_images())) for s, e in evals]})

    def record(lp: TrainingLoop) -> None:
        if val_data is None:
            return
        if sample_every and lp.step % sample_every == 0:
            samples.append((lp.step, generate(model.G, sample_pairs["A"], test_mode,
                                              min(P.batch_size, num_samples), seed)))
        if eval_every and lp.step % eval_every == 0:
            ev = evaluate_generator(model.G, val_data, segmenter, test_mode, P.batch_size,
                                    seed=seed, keep_images=False)
            evals.append((lp.step, ev))
        save_extras()

    if val_data is not None and sample_every and loop.step == 0 and not samples:
        record_step0 = generate(model.G, sample_pairs["A"], test_mode,
                                min(P.batch_size, num_samples), seed)
        samples.append((0, record_step0))

    target = steps if stop_after is None else stop_after
    if loop.step < target:
        loop.config.steps = target
        try:
            loop.run(train_set, on_interval=record, desc=name)
        except KeyboardInterrupt:
            last = (load_checkpoint(loop.checkpoint_path)["step"]
                    if loop.checkpoint_path is not None and loop.checkpoint_path.is_file()
                    else None)
            where = (f"the last checkpoint in {run_path} is at step {last}; run the same call "
                     f"again to continue from it" if last is not None else
                     "nothing was saved (pass run_dir=... to make runs resumable)")
            print(f"{name}: interrupted at step {loop.step} of {steps}; {where}.")
            raise
        finally:
            loop.config.steps = steps
        save_extras()
    release_training_state(model)

    evaluation = None
    if val_data is not None:
        evaluation = evaluate_generator(model.G, val_data, segmenter, test_mode, P.batch_size,
                                        seed=seed)
    return Pix2PixRun(name=name, model=model, history=loop.history, samples=samples,
                      sample_pairs=sample_pairs, val_pairs=val_data or {},
                      evaluation=evaluation, evals=evals,
                      run_dir=run_path, seconds=loop.seconds, resumed_from=resumed_from,
                      steps=steps, step=loop.step)


# --------------------------------------------------------------------------- reporting


def release_training_state(model: Any) -> None:
    """Free what only further training needs: the last gradients and the optimizers' moments.

    A returned run keeps its networks (on the device) for evaluation and sampling; Adam's two
    moments and the gradients are 12 more bytes per parameter, which would stay allocated as
    long as the notebook holds the run. At the gpu profile that is 2.1 GiB per pix2pixHD run
    (G1 has 188 M parameters): notebook 05 keeps six of them, more than a 16 GB T4 holds
    beside the run in training. Training continues from a run folder's checkpoint, which
    holds the moments; calling the trainer's ``train_step`` on a released model starts Adam's
    moments afresh.
    """
    for opt in getattr(model, "optimizers", {}).values():
        opt.zero_grad(set_to_none=True)
        opt.state.clear()


def run_folder_name(name: str) -> str:
    """A folder name for a run called ``name``: ``"L1+cGAN"`` -> ``"L1_cGAN"``."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_.")
    if not slug:
        raise ValueError(f"cannot make a folder name from the run name {name!r}; use letters or "
                         f"digits")
    return slug


def train_variants(P: Profile, train_set: Dataset, val_set: Dataset | None,
                   variants: Mapping[str, Mapping[str, Any]], *,
                   run_root: str | Path | None = None, **common: Any) -> dict[str, Pix2PixRun]:
    """Train every variant of an ablation with :func:`train_pix2pix`; one call per notebook cell.

    Args:
        P, train_set, val_set: as in :func:`train_pix2pix`, shared by all variants.
        variants: ``{name: keyword arguments of train_pix2pix}``, e.g.
            ``{"L1": {"config": Pix2PixConfig(use_gan=False)}, "L1+cGAN": {}}``. A
            ``generator`` or ``discriminator`` may be given as a zero-argument function that
            builds it, so that only one variant's networks exist at a time.
        run_root: each variant checkpoints into ``run_root / run_folder_name(name)`` (and
            resumes from it); ``None`` keeps every run in memory.
        common: keyword arguments for every variant (``steps``, ``seed``, ``segmenter``...);
            a variant's own arguments take precedence.

    Returns:
        ``{name: Pix2PixRun}`` in the order of ``variants``.
    """
    if not variants:
        raise ValueError("variants is empty: pass {name: {train_pix2pix arguments}}")
    folders = [run_folder_name(name) for name in variants]
    if len(set(folders)) != len(folders):
        raise ValueError(f"two variants map to the same run folder: {folders}; rename them")
    runs: dict[str, Pix2PixRun] = {}
    for (name, own), folder in zip(variants.items(), folders):
        if not isinstance(own, Mapping):
            raise ValueError(f"variant {name!r} must be a dict of train_pix2pix arguments, got "
                             f"{type(own).__name__}")
        kwargs = {**common, **own}
        for key in ("generator", "discriminator"):
            if callable(kwargs.get(key)) and not isinstance(kwargs[key], nn.Module):
                kwargs[key] = kwargs[key]()
        run_dir = None if run_root is None else Path(run_root) / folder
        runs[name] = train_pix2pix(P, train_set, val_set, name=name, run_dir=run_dir, **kwargs)
    return runs


def _smooth(values: Sequence[float], window: int) -> list[float]:
    """Trailing moving average (the first points average what there is)."""
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= window:
            acc -= values[i - window]
        out.append(acc / min(i + 1, window))
    return out


def plot_history(history: History, keys: Sequence[str] | None = None, smooth: int | None = None,
                 title: str | None = None, axes: Any = None,
                 d_output: str = "probability"):  # type: ignore[no-untyped-def]
    """Plot the losses of a run, and D's mean outputs on real and fake pairs beside them.

    The right panel is the one to read when training goes wrong: ``D_real`` near 1 and
    ``D_fake`` near 0 for a long stretch means D is winning and G gets little signal
    (while ``loss_G_GAN`` climbs). Near 0.5 each, neither is winning, which is how a
    healthy GAN looks (for LSGAN's targets 1 and 0 too: its optimal D is 0.5 where the
    fake and real distributions agree).

    Args:
        history: ``run.history`` (or any :class:`~course_lib.train.engine.History`).
        keys: the loss curves to draw; default D's loss and G's two terms (``loss_D``,
            ``loss_G_GAN``, ``loss_G_L1``; the L1 term unweighted, the mean absolute error).
        smooth: moving-average window in logged points; default about 1/50 of the run.
        title: a title over both panels of a new figure; with ``axes`` given, a title on each
            panel instead, so that several runs drawn into one figure keep their own labels.
        axes: two matplotlib axes to draw into; default a new figure.
        d_output: what ``D_real`` / ``D_fake`` hold: ``"probability"`` (the mean of
            sigmoid(D), as pix2pix's trainer records them: drawn on 0..1) or ``"raw"`` (D's mean
            output itself, as the LSGAN trainers of pix2pixHD and BicycleGAN record them: not
            a probability, not clipped).

    Returns:
        the figure.
    """
    import matplotlib.pyplot as plt

    if d_output not in ("probability", "raw"):
        raise ValueError(f"d_output={d_output!r}: use 'probability' or 'raw'")
    if not history.rows:
        raise ValueError("the history is empty: train for at least one logged step")
    recorded = [k for k in history.rows[0] if k != "step"]
    if keys is None:   # the terms, not the weighted total (lambda * L1 dwarfs the rest)
        keys = [k for k in ("loss_D", "loss_G_GAN", "loss_G_L1") if k in recorded] or \
            [k for k in recorded if k.startswith("loss_")]
    unknown = [k for k in keys if k not in recorded]
    if unknown:
        raise ValueError(f"the history has no {unknown}; it records {recorded}")
    if smooth is None:
        smooth = max(1, len(history.rows) // 50)
    probs = [k for k in ("D_real", "D_fake") if k in recorded]
    own_figure = axes is None
    if axes is None:
        ncols = 2 if probs else 1
        fig, axs = plt.subplots(1, ncols, figsize=(5.2 * ncols, 3.0), squeeze=False)
        axes = list(axs[0])
    else:
        axes = list(axes) if isinstance(axes, (list, tuple)) else [axes]
        fig = axes[0].figure
    for key in keys:
        steps, values = history.series(key)
        axes[0].plot(steps, _smooth(values, smooth), label=key)
    axes[0].set(xlabel="step", ylabel="loss")
    axes[0].legend(fontsize=9)
    if probs and len(axes) > 1:
        what = "mean sigmoid(D)" if d_output == "probability" else "mean D output"
        for key in probs:
            steps, values = history.series(key)
            axes[1].plot(steps, _smooth(values, smooth), label=f"{key} = {what}")
        axes[1].axhline(0.5, color="grey", lw=0.8, ls="--")
        if d_output == "probability":
            axes[1].set(xlabel="step", ylabel="D's probability 'real'", ylim=(0, 1))
        else:
            axes[1].set(xlabel="step", ylabel="D's mean output (targets 1 real, 0 fake)")
        axes[1].legend(fontsize=9)
    if title and own_figure:
        fig.suptitle(title, fontsize=10)
    elif title:
        axes[0].set_title(f"{title}: losses", fontsize=10)
        if probs and len(axes) > 1:
            axes[1].set_title(f"{title}: D's outputs", fontsize=10)
    fig.tight_layout()
    return fig


_COLUMNS: tuple[tuple[str, str], ...] = (
    ("pixel_acc", "per-pixel acc"), ("class_acc", "per-class acc"), ("class_iou", "class IoU"),
    ("sharpness", "sharpness"), ("sharpness_inside", "sharp. inside"),
    ("color_spread", "colour spread"), ("l1", "L1"))


def _evaluation_of(item: Pix2PixRun | Evaluation, name: str) -> Evaluation:
    ev = item.evaluation if isinstance(item, Pix2PixRun) else item
    if not isinstance(ev, Evaluation):
        raise ValueError(f"{name!r} has no evaluation: train it with a val_set, or pass an "
                         f"Evaluation")
    return ev


def results_table(results: Mapping[str, Pix2PixRun | Evaluation], upper_bound: bool = True,
                  digits: int = 3) -> str:
    """A plain-text table of the evaluations of several runs, one row per run.

    Columns: the FCN-score (per-pixel acc, per-class acc, class IoU; Sec. 4.1, Table 1),
    sharpness over the image and inside class regions, colour spread (1.0 = as real) and L1.
    With ``upper_bound`` a last row gives the real photos' FCN-score (and 1.0 for the
    ratios), as the paper's "Ground truth" row.
    """
    if not results:
        raise ValueError("results is empty: pass {name: run or evaluation}")
    evals = {name: _evaluation_of(item, name) for name, item in results.items()}
    width = max(len("real photos (upper bound)") if upper_bound else 0,
                *(len(n) for n in evals)) + 2
    head = f"{'':<{width}}" + "".join(f"{label:>15}" for _, label in _COLUMNS)
    lines = [head, "-" * len(head)]

    def row(name: str, values: Mapping[str, float]) -> str:
        cells = []
        for key, _ in _COLUMNS:
            v = values.get(key)
            cells.append(f"{'-':>15}" if v is None or not math.isfinite(v)
                         else f"{v:>15.{digits}f}")
        return f"{name:<{width}}" + "".join(cells)

    for name, ev in evals.items():
        lines.append(row(name, ev.as_dict()))
    if upper_bound:
        real = next((ev.fcn_real for ev in evals.values() if ev.fcn_real is not None), None)
        if real is not None:
            bound = {**real.as_dict(), "sharpness": 1.0, "sharpness_inside": 1.0,
                     "color_spread": 1.0, "l1": 0.0}
            lines.append(row("real photos (upper bound)", bound))
    modes = sorted({ev.test_mode for ev in evals.values()})
    counts = sorted({ev.count for ev in evals.values()})
    lines.append(f"({'/'.join(map(str, counts))} validation pairs; test mode "
                 f"{'/'.join(modes)}; FCN-scores are comparable within the course, not to the "
                 f"paper's tables)")
    return "\n".join(lines)


def print_results(results: Mapping[str, Pix2PixRun | Evaluation], upper_bound: bool = True,
                  digits: int = 3) -> None:
    """Print :func:`results_table`."""
    print(results_table(results, upper_bound, digits))


def compare_outputs(runs: Mapping[str, Pix2PixRun], n: int = 4, size: float = 1.8
                    ):  # type: ignore[no-untyped-def]
    """Input, target and each run's final output on the first ``n`` validation pairs."""
    from course_lib.viz import show_rows

    if not runs:
        raise ValueError("runs is empty: pass {name: run}")
    first = next(iter(runs.values()))
    if not first.val_pairs:
        raise ValueError(f"run {first.name!r} has no validation pairs to show")
    rows: dict[str, Sequence[torch.Tensor]] = {"input": list(first.val_pairs["A"][:n]),
                                               "target": list(first.val_pairs["B"][:n])}
    for name, run in runs.items():
        ev = _evaluation_of(run, name)
        if ev.fake is None:
            raise ValueError(f"run {name!r} kept no images")
        rows[name] = list(ev.fake[:n])
    return show_rows(rows, size=size)

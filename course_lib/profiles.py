"""Run profiles: how big a notebook's experiments are on the machine at hand.

The papers train at 256 px (pix2pix, Isola et al. 2017, Sec. 4) and up to 2048x1024
(pix2pixHD, Wang et al. 2018, Sec. 4) on a GPU. A course must also run on a laptop CPU and
in CI, so every notebook reads its sizes from one of three profiles instead of hard-coding
them:

* ``ci``  -- tiny; only proves that every cell executes.
* ``cpu`` -- small enough for a laptop CPU in minutes, large enough to show each claim.
* ``gpu`` -- the papers' resolutions and widths.

The profile is chosen by the ``COURSE_PROFILE`` environment variable, else by the device
(``gpu`` when CUDA is available, ``cpu`` otherwise). :func:`setup` also seeds every random
number generator, picks the device and, on CUDA, the mixed precision (:func:`default_amp`).

``COURSE_MAX_STEPS=N`` caps every training run at ``N`` steps (:func:`cap_steps`), and the
training and evaluation data at a few pairs, so that the ``gpu`` profile's networks and
resolutions can be dry-run on a CPU (``make test-gpu-dry``): every cell runs, no claim shows.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass, replace

import numpy as np
import torch

__all__ = ["Profile", "PROFILES", "get_profile", "pick_device", "seed_everything", "setup",
           "default_amp", "max_steps", "cap_steps", "scale_to_cap", "MAX_STEPS_VAR"]

ENV_VAR = "COURSE_PROFILE"
MAX_STEPS_VAR = "COURSE_MAX_STEPS"
# Under COURSE_MAX_STEPS the data shrink too (the ci profile's counts, which every notebook
# runs with): rendering and evaluating hundreds of 256 px pairs is what would make a dry run slow.
DRY_TRAIN_SIZE = 16
DRY_EVAL_SIZE = 8


@dataclass(frozen=True)
class Profile:
    """Sizes of one run profile. Every notebook reads these instead of literals.

    Attributes:
        name: ``"ci"``, ``"cpu"`` or ``"gpu"``.
        image_size: side of the square images (facades, shapes), in pixels.
        hd_size: ``(height, width)`` of the 2:1 street scenes at the global generator's
            resolution (pix2pixHD trains G1 at half the final resolution, Sec. 3.2).
        ngf: width of the generator's first layer (the papers use 64).
        ndf: width of the discriminator's first layer (the papers use 64).
        batch_size: pairs per training step (pix2pix used 1 for facades, Sec. 4).
        steps: training iterations of one model run in a notebook.
        train_size: training pairs generated per procedural dataset.
        eval_size: held-out pairs used for each evaluation.
        num_workers: data-loader worker processes.
        device: ``"cpu"`` or ``"cuda"``; filled in by :func:`setup`.
        amp: mixed precision of the training steps: ``None`` (float32), ``"bf16"`` or
            ``"fp16"`` (with a gradient scaler); filled in from the device
            (:func:`default_amp`).
        max_steps: the ``COURSE_MAX_STEPS`` cap in force (``None``: none).
    """

    name: str
    image_size: int
    hd_size: tuple[int, int]
    ngf: int
    ndf: int
    batch_size: int
    steps: int
    train_size: int
    eval_size: int
    num_workers: int = 0
    device: str = "cpu"
    amp: str | None = None
    max_steps: int | None = None

    @property
    def unet_downs(self) -> int:
        """Down-samplings of a U-Net that takes ``image_size`` down to 1x1 (8 at 256 px)."""
        return int(self.image_size).bit_length() - 1

    def summary(self) -> str:
        """One line that says what this profile runs."""
        h, w = self.hd_size
        steps = f"{self.steps} steps"
        if self.max_steps is not None:
            steps += f" capped at {self.max_steps} by {MAX_STEPS_VAR}"
        return (
            f"profile {self.name}: {self.image_size}px images, streets {w}x{h} (width x height), "
            f"ngf/ndf {self.ngf}/{self.ndf}, batch {self.batch_size}, {steps}, "
            f"{self.train_size} train / {self.eval_size} eval pairs"
            + (f", amp {self.amp}" if self.amp else "")
        )


PROFILES: dict[str, Profile] = {
    "ci": Profile(
        name="ci", image_size=32, hd_size=(32, 64), ngf=8, ndf=8, batch_size=4,
        steps=3, train_size=16, eval_size=8,
    ),
    "cpu": Profile(
        name="cpu", image_size=64, hd_size=(64, 128), ngf=32, ndf=32, batch_size=4,
        steps=2000, train_size=400, eval_size=64,
    ),
    # The papers' networks at 256 px, sized for a Colab T4 (16 GB, fp16): each notebook
    # <= 30 min there (projected in course_lib.gpu_budget). Departures from the paper, for
    # that budget: batch 16 instead of 1 (at batch 1 a T4 is bound by kernel launches, at 16
    # by its tensor cores: ~3x the pairs per minute), and 2000 steps = 32 000 pairs, 80
    # epochs of the 400 training pairs (the paper: 200 epochs of facades' 400, batch 1).
    "gpu": Profile(
        name="gpu", image_size=256, hd_size=(256, 512), ngf=64, ndf=64, batch_size=16,
        steps=2000, train_size=400, eval_size=100, num_workers=2,
    ),
}


def max_steps() -> int | None:
    """The step cap set by ``$COURSE_MAX_STEPS`` (``None`` when unset or empty).

    Raises:
        ValueError: the variable is set to anything but a positive integer.
    """
    raw = os.environ.get(MAX_STEPS_VAR, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{MAX_STEPS_VAR}={raw!r} is not a positive integer: set it to the "
                         f"most steps any training run may take (e.g. {MAX_STEPS_VAR}=2 for a dry "
                         f"run), or unset it")
    return int(raw)


def cap_steps(steps: int) -> int:
    """``steps``, or the ``$COURSE_MAX_STEPS`` cap if that is smaller."""
    cap = max_steps()
    return steps if cap is None else min(int(steps), cap)


def scale_to_cap(count: int, steps: int, capped: int) -> int:
    """A step count inside a run of ``steps`` steps (a phase length, an evaluation step),
    moved to the same place in the run capped to ``capped`` steps: proportional, at least 1
    when it was, at most ``capped``."""
    if capped >= steps or count <= 0:
        return min(count, capped)
    return max(1, min(capped, round(count * capped / steps)))


def default_amp(device: str) -> str | None:
    """Mixed precision for ``device``: none on CPUs; on CUDA bf16 where the GPU has it
    (Ampere and later), else fp16 with a gradient scaler (a Colab T4)."""
    if not str(device).startswith("cuda"):
        return None
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def pick_device(prefer: str | None = None) -> str:
    """Return ``"cuda"`` when a GPU is usable (or asked for), else ``"cpu"``."""
    if prefer is not None:
        if prefer == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' was asked for but torch sees no GPU; use 'cpu'")
        if prefer not in ("cpu", "cuda"):
            raise ValueError(f"unknown device {prefer!r}: use 'cpu' or 'cuda'")
        return prefer
    return "cuda" if torch.cuda.is_available() else "cpu"


def get_profile(name: str | None = None, device: str | None = None) -> Profile:
    """Look up a profile by name, else from ``$COURSE_PROFILE``, else from the device.

    Under ``$COURSE_MAX_STEPS`` the training and evaluation sets shrink to at most
    16 and 8 pairs (the ci profile's counts; the networks and resolutions stay).

    Raises:
        ValueError: the name is not one of ``ci``, ``cpu``, ``gpu``, or ``$COURSE_MAX_STEPS``
            is not a positive integer.
    """
    device = pick_device(device)
    if name is None:
        name = os.environ.get(ENV_VAR, "").strip() or ("gpu" if device == "cuda" else "cpu")
    key = name.strip().lower()
    if key not in PROFILES:
        valid = ", ".join(PROFILES)
        raise ValueError(
            f"unknown profile {name!r} (from {ENV_VAR} or the argument): valid profiles are "
            f"{valid}. Example: {ENV_VAR}=cpu jupyter lab"
        )
    prof = replace(PROFILES[key], device=device, amp=default_amp(device))
    cap = max_steps()
    if cap is not None:
        prof = replace(prof, max_steps=cap,
                       train_size=min(prof.train_size, max(DRY_TRAIN_SIZE, 2 * prof.batch_size)),
                       eval_size=min(prof.eval_size, DRY_EVAL_SIZE))
    return prof


def seed_everything(seed: int = 0, deterministic: bool | None = None,
                    device: str | None = None) -> None:
    """Seed Python, NumPy and PyTorch (CPU and all GPUs), and choose the kernels.

    ``deterministic`` defaults to True on a CPU and False on CUDA (``device="cuda"``):

    * True: PyTorch picks deterministic kernels where it has them and cuDNN does not
      benchmark, so two CPU runs with the same seed -- and a resumed run and an uninterrupted
      one -- give bit-identical results. That is the course's promise on a CPU.
    * False (the GPU default): cuDNN benchmarks and caches the fastest convolution algorithm
      per shape and deterministic algorithms are off; on a GPU the course promises only the
      same seeds, data order and schedule, with results that agree to rounding (atomic
      additions in the backward passes of some kernels make the last bits vary from run to
      run). Pass ``deterministic=True`` to trade that speed for repeatability on a GPU.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic is None:
        deterministic = not str(device or "cpu").startswith("cuda")
    if deterministic:
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        torch.backends.cudnn.benchmark = True
        torch.use_deterministic_algorithms(False)


def setup(profile: str | None = None, seed: int = 0, device: str | None = None,
          verbose: bool = True) -> Profile:
    """Start a notebook: pick the profile and device, seed everything, print a summary.

    Args:
        profile: ``"ci"``, ``"cpu"`` or ``"gpu"``; default ``$COURSE_PROFILE`` or by device.
        seed: seed for every random number generator.
        device: ``"cpu"`` or ``"cuda"``; default the GPU when there is one.
        verbose: print the one-line summary.

    Returns:
        The chosen :class:`Profile`, with its ``device`` filled in.
    """
    prof = get_profile(profile, device)
    seed_everything(seed, device=prof.device)
    if verbose:
        import course_lib
        from course_lib.gpu_budget import header_note

        print(f"course_lib {course_lib.__version__} | {prof.summary()} | device {prof.device} "
              f"| torch {torch.__version__} | seed {seed} | {header_note()}")
    return prof

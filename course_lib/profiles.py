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
number generator and picks the device.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass, replace

import numpy as np
import torch

__all__ = ["Profile", "PROFILES", "get_profile", "pick_device", "seed_everything", "setup"]

ENV_VAR = "COURSE_PROFILE"


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

    @property
    def unet_downs(self) -> int:
        """Down-samplings of a U-Net that takes ``image_size`` down to 1x1 (8 at 256 px)."""
        return int(self.image_size).bit_length() - 1

    def summary(self) -> str:
        """One line that says what this profile runs."""
        h, w = self.hd_size
        return (
            f"profile {self.name}: {self.image_size}px images, streets {w}x{h} (width x height), "
            f"ngf/ndf {self.ngf}/{self.ndf}, batch {self.batch_size}, {self.steps} steps, "
            f"{self.train_size} train / {self.eval_size} eval pairs"
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
    "gpu": Profile(
        name="gpu", image_size=256, hd_size=(256, 512), ngf=64, ndf=64, batch_size=1,
        steps=40000, train_size=400, eval_size=100, num_workers=2,
    ),
}


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

    Raises:
        ValueError: the name is not one of ``ci``, ``cpu``, ``gpu``.
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
    return replace(PROFILES[key], device=device)


def seed_everything(seed: int = 0, deterministic: bool = True) -> None:
    """Seed Python, NumPy and PyTorch (CPU and all GPUs).

    With ``deterministic=True`` PyTorch picks deterministic kernels where it has them, so two
    CPU runs with the same seed give bit-identical results.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)


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
    seed_everything(seed)
    if verbose:
        import course_lib

        print(f"course_lib {course_lib.__version__} | {prof.summary()} | device {prof.device} "
              f"| torch {torch.__version__} | seed {seed}")
    return prof

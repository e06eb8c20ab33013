"""Starting a notebook or a script: the profile, the seeds, the threads and a one-line summary.

The top floor of the package: it asks :mod:`course_lib.profiles` (the ground floor, which
imports nothing of the course) for the profile and :mod:`course_lib.gpu_budget` for the
notebook's projected or measured GPU minutes, so that neither has to reach up for the other.
``course_lib.setup`` is this module's :func:`setup`.
"""
from __future__ import annotations

from dataclasses import replace

import torch

from course_lib.profiles import Profile, get_profile, seed_everything, set_threads

__all__ = ["setup"]


def setup(profile: str | None = None, seed: int = 0, device: str | None = None,
          verbose: bool = True) -> Profile:
    """Start a notebook: pick the profile, device and precision, seed everything, on a CPU use
    the physical cores (:func:`set_threads`), print a summary.

    Args:
        profile: ``"ci"``, ``"cpu"`` or ``"gpu"``; default ``$COURSE_PROFILE`` or by device.
        seed: seed for every random number generator.
        device: ``"cpu"`` or ``"cuda"``; default the GPU when there is one.
        verbose: print the one-line summary.

    Returns:
        The chosen :class:`Profile`, with its ``device``, precision and ``threads`` filled in.
    """
    prof = get_profile(profile, device)
    # CPU training uses the physical cores; on CUDA PyTorch's own thread count stays.
    threads = set_threads() if prof.device == "cpu" else torch.get_num_threads()
    prof = replace(prof, threads=threads)
    seed_everything(seed, device=prof.device)
    if verbose:
        from course_lib import __version__
        from course_lib.gpu_budget import header_note

        print(f"course_lib {__version__} | {prof.summary()} | device {prof.device} "
              f"| torch {torch.__version__} | seed {seed} | {header_note()}")
    return prof

"""Run profiles: how big a notebook's experiments are on the machine at hand.

The papers train at 256 px (pix2pix, Isola et al. 2017, Sec. 4) and up to 2048x1024
(pix2pixHD, Wang et al. 2018, Sec. 4) on a GPU. A course must also run on a laptop CPU and
in CI, so every notebook reads its sizes from one of three profiles instead of hard-coding
them:

* ``ci``  -- tiny; only proves that every cell executes.
* ``cpu`` -- small enough for a laptop CPU in minutes, large enough to show each claim.
* ``gpu`` -- the papers' resolutions and widths.

The profile is chosen by the ``COURSE_PROFILE`` environment variable, else by the device
(``gpu`` when CUDA is available, ``cpu`` otherwise). :func:`course_lib.session.setup` also seeds every random
number generator, picks the device and the precision (:func:`precision_for`), and makes
PyTorch use the learner's physical cores (:func:`set_threads`).

**Precision.** On CUDA the mixed precision is :func:`default_amp`'s (bf16 from Ampere on,
else fp16 with a gradient scaler). On a CPU the ``cpu`` profile trains under bf16 autocast
with channels_last tensors and fused Adam when the CPU computes in bf16 natively (AMX or
AVX512-BF16 on x86, the BF16 extension on ARM; :func:`native_cpu_bf16`): that is faster
(1.54x eager fp32 for pix2pix at 64 px on a 2-core Xeon with AMX, ``python -m course_lib
bench``), and bf16 keeps float32's 8-bit exponent, so gradients cannot underflow the way
they do in fp16 and no loss scaling is needed; the weights, Adam's moments and the losses stay
in float32. Every other CPU, and the ``ci`` and ``gpu`` profiles on a CPU, train in eager
float32 (the ``ci`` profile so that the test suite's numbers stay the same on every machine).
``COURSE_AMP=fp32|bf16|auto`` overrides the choice (:data:`AMP_VAR`).

``COURSE_MAX_STEPS=N`` caps every training run at ``N`` steps (:func:`cap_steps`), and the
training and evaluation data at a few pairs, so that the ``gpu`` profile's networks and
resolutions can be dry-run on a CPU (``make test-gpu-dry``): every cell runs, no claim shows.
"""
from __future__ import annotations

import os
import platform
import random
import warnings
from dataclasses import dataclass, replace

import numpy as np
import torch

__all__ = ["Profile", "PROFILES", "get_profile", "pick_device", "seed_everything",
           "default_amp", "max_steps", "cap_steps", "scale_to_cap", "MAX_STEPS_VAR",
           "AMP_VAR", "amp_override", "native_cpu_bf16", "precision_for", "physical_cores",
           "cores_in_cpuinfo", "set_threads"]

ENV_VAR = "COURSE_PROFILE"
MAX_STEPS_VAR = "COURSE_MAX_STEPS"
AMP_VAR = "COURSE_AMP"
AMP_CHOICES = ("auto", "fp32", "bf16")
# The profiles that use a CPU's native bf16 by themselves (COURSE_AMP=auto). Not ci: the
# test suite's numbers must not depend on the machine; not gpu: on a CPU it is a dry run.
CPU_BF16_PROFILES = ("cpu",)
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
        device: ``"cpu"`` or ``"cuda"``; filled in by :func:`course_lib.session.setup`.
        amp: mixed precision of the training steps: ``None`` (float32), ``"bf16"`` or
            ``"fp16"`` (with a gradient scaler); filled in by :func:`precision_for` (on CUDA
            :func:`default_amp`; on a CPU bf16 at the ``cpu`` profile where the CPU has
            native bf16; ``$COURSE_AMP`` overrides).
        channels_last: keep networks and image batches in channels_last (NHWC) memory format;
            on with bf16 on a CPU, where oneDNN's bf16 convolutions want NHWC.
        fused_adam: one fused Adam kernel for all of a network's parameters instead of a
            loop of small ones (on with bf16 on a CPU; its checkpoints load into plain Adam
            and back).
        precision_note: why this precision runs (e.g. ``"native bf16: AMX"``), for
            :meth:`summary`.
        threads: PyTorch's intra-op threads, filled in by :func:`course_lib.session.setup` (0: not set).
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
    channels_last: bool = False
    fused_adam: bool = False
    precision_note: str = ""
    threads: int = 0
    max_steps: int | None = None

    @property
    def unet_downs(self) -> int:
        """Down-samplings of a U-Net that takes ``image_size`` down to 1x1 (8 at 256 px)."""
        return int(self.image_size).bit_length() - 1

    def precision(self) -> str:
        """What the training steps compute in and why, e.g. ``"bf16 autocast + channels_last
        + fused Adam (native bf16: AMX)"`` or ``"fp32 (no native bf16)"``."""
        if self.amp is None:
            what = "fp32"
        else:
            what = f"{self.amp} autocast" + (" + gradient scaler" if self.amp == "fp16" else "")
            what += " + channels_last" if self.channels_last else ""
            what += " + fused Adam" if self.fused_adam else ""
        return what + (f" ({self.precision_note})" if self.precision_note else "")

    def summary(self) -> str:
        """One line that says what this profile runs: sizes, precision (and why), threads."""
        h, w = self.hd_size
        steps = f"{self.steps} steps"
        if self.max_steps is not None:
            steps += f" capped at {self.max_steps} by {MAX_STEPS_VAR}"
        device = "cuda" if str(self.device).startswith("cuda") else "cpu"
        plural = "s" if self.threads > 1 else ""
        threads = f", {self.threads} thread{plural}" if self.threads and device == "cpu" else ""
        return (
            f"profile {self.name}: {self.image_size}px images, streets {w}x{h} (width x height), "
            f"ngf/ndf {self.ngf}/{self.ndf}, batch {self.batch_size}, {steps}, "
            f"{self.train_size} train / {self.eval_size} eval pairs; "
            f"{device}: {self.precision()}{threads}"
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


def amp_override() -> str:
    """``$COURSE_AMP``: ``"auto"`` (the default: the profile and the device choose),
    ``"fp32"`` (always float32, eager: no autocast, channels_last or fused Adam) or ``"bf16"``
    (bf16 autocast on any device; on a CPU without native bf16 it is emulated: it works and
    gives bf16's numbers, but runs slower than float32).

    Raises:
        ValueError: the variable holds anything else.
    """
    raw = os.environ.get(AMP_VAR, "").strip()
    key = raw.lower() or "auto"
    if key not in AMP_CHOICES:
        raise ValueError(f"{AMP_VAR}={raw!r} is not one of {', '.join(AMP_CHOICES)}: set "
                         f"{AMP_VAR}=fp32 to train in float32, {AMP_VAR}=bf16 for bf16 "
                         f"autocast, or unset it (auto: bf16 on a CPU with native bf16 at the "
                         f"cpu profile, the GPU's mixed precision on CUDA)")
    return key


def native_cpu_bf16() -> str | None:
    """The CPU's native bf16 hardware, or ``None`` when it has none (bf16 would be emulated,
    slower than float32).

    ``"AMX"`` (Intel Sapphire Rapids and later), ``"AVX512-BF16"`` (Cooper Lake, AMD Zen 4
    and later) or, off x86, ``"BF16"`` (ARMv8.6 BF16 extension, as oneDNN sees it). Each probe
    is a private PyTorch function that older releases lack; a missing one counts as "no".
    """
    cpu = getattr(torch, "cpu", None)
    for probe, name in (("_is_amx_tile_supported", "AMX"),
                        ("_is_avx512_bf16_supported", "AVX512-BF16")):
        try:
            if bool(getattr(cpu, probe)()):
                return name
        except Exception:          # an older torch, or a probe that fails on this CPU
            pass
    # oneDNN says yes on x86 CPUs with plain AVX-512 too, where bf16 is emulated: ask it
    # only off x86 (ARM's BF16 extension).
    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686", "x86"):
        try:
            if bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()):
                return "BF16"
        except Exception:
            pass
    return None


def precision_for(name: str, device: str) -> dict:
    """The precision settings of profile ``name`` on ``device``: the :class:`Profile` fields
    ``amp``, ``channels_last``, ``fused_adam`` and ``precision_note``.

    * CUDA: :func:`default_amp` (bf16, or fp16 with a gradient scaler), as before;
      ``COURSE_AMP=fp32`` turns it off, ``COURSE_AMP=bf16`` asks for bf16.
    * CPU: bf16 autocast + channels_last + fused Adam at the ``cpu`` profile when the CPU has
      native bf16 (:func:`native_cpu_bf16`) -- faster, and bf16 keeps float32's exponent range,
      so no loss scaling; float32 everywhere else. ``COURSE_AMP=bf16`` forces the bf16 setting
      at any profile (with a warning on a CPU without native bf16), ``COURSE_AMP=fp32`` the
      float32 one.

    Raises:
        ValueError: ``$COURSE_AMP`` is not ``auto``, ``fp32`` or ``bf16``, or asks for bf16 on
            a GPU without it.
    """
    choice = amp_override()
    off = {"amp": None, "channels_last": False, "fused_adam": False}
    if str(device).startswith("cuda"):
        if choice == "fp32":
            return {**off, "precision_note": f"{AMP_VAR}=fp32"}
        if choice == "bf16":
            if not torch.cuda.is_bf16_supported():
                raise ValueError(f"{AMP_VAR}=bf16 but this GPU has no bf16 (before Ampere): "
                                 f"unset {AMP_VAR} for fp16 with a gradient scaler, or set "
                                 f"{AMP_VAR}=fp32")
            return {**off, "amp": "bf16", "precision_note": f"{AMP_VAR}=bf16"}
        return {**off, "amp": default_amp(device)}
    native = native_cpu_bf16()
    fast = {"amp": "bf16", "channels_last": True, "fused_adam": True}
    if choice == "fp32":
        return {**off, "precision_note": f"{AMP_VAR}=fp32"}
    if choice == "bf16":
        if native is None:
            warnings.warn(f"{AMP_VAR}=bf16 on a CPU without native bf16: bf16 is emulated "
                          f"there and trains slower than float32; unset {AMP_VAR} for float32",
                          stacklevel=2)
            return {**fast, "precision_note": f"{AMP_VAR}=bf16; no native bf16: emulated, slow"}
        return {**fast, "precision_note": f"{AMP_VAR}=bf16; native bf16: {native}"}
    if native is None:
        return {**off, "precision_note": "no native bf16"}
    if name not in CPU_BF16_PROFILES:
        return {**off, "precision_note": f"{name} profile; bf16 ({native}) runs at the "
                                         f"{'/'.join(CPU_BF16_PROFILES)} profile"}
    return {**fast, "precision_note": f"native bf16: {native}"}


def physical_cores() -> int | None:
    """Physical CPU cores this process may use (hyper-threads not counted), or ``None`` when
    unknown.

    Linux: the distinct ``(physical id, core id)`` pairs of ``/proc/cpuinfo`` among the CPUs
    this process may run on; elsewhere ``psutil.cpu_count(logical=False)`` if psutil is
    installed. ``os.cpu_count()`` counts logical CPUs (two per core with hyper-threading),
    and two threads on one core make convolutions slower, not faster.
    """
    try:
        allowed: set[int] | None = set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        allowed = None
    try:
        with open("/proc/cpuinfo") as fh:
            cores = cores_in_cpuinfo(fh.read(), allowed)
    except OSError:
        cores = None
    if cores:
        return cores
    try:
        import psutil  # type: ignore[import-untyped]

        n = psutil.cpu_count(logical=False)
        return int(n) if n else None
    except Exception:
        return None


def cores_in_cpuinfo(text: str, allowed: set[int] | None = None) -> int | None:
    """Physical cores listed in the text of ``/proc/cpuinfo`` (distinct ``(physical id,
    core id)`` pairs), counting only the logical CPUs in ``allowed`` (all when ``None``); a
    CPU without ``core id`` (some ARM kernels) counts as a core of its own. ``None``: no CPU
    listed."""
    cores: set[tuple[str, str]] = set()
    for block in text.split("\n\n"):
        fields = {}
        for line in block.splitlines():
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
        cpu = fields.get("processor", "")
        if not cpu.isdigit():
            continue
        if allowed is not None and int(cpu) not in allowed:
            continue
        if "core id" in fields:
            cores.add((fields.get("physical id", "0"), fields["core id"]))
        else:
            cores.add(("cpu", cpu))
    return len(cores) or None


def set_threads() -> int:
    """Make PyTorch use the physical cores (see :func:`physical_cores`); returns the count.

    An explicit choice is kept: ``$OMP_NUM_THREADS`` (or ``$MKL_NUM_THREADS``) when set, and a
    ``torch.set_num_threads`` call made before (any count other than PyTorch's default). When
    the cores are unknown, PyTorch's default stays.
    """
    current = torch.get_num_threads()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        raw = os.environ.get(var, "").strip()
        if raw.isdigit() and int(raw) > 0:
            return current                 # torch read it when it started
    cores = physical_cores()
    if cores is None or current != _TORCH_DEFAULT_THREADS:
        return current                     # unknown, or set by the user already
    if cores != current:
        torch.set_num_threads(cores)
    return torch.get_num_threads()


# PyTorch's own choice when this module was first imported; a different count later was set
# by someone on purpose (a user's torch.set_num_threads, or this module's set_threads).
_TORCH_DEFAULT_THREADS = torch.get_num_threads()


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

    The precision comes from :func:`precision_for` (the device, the CPU's native bf16 and
    ``$COURSE_AMP``).

    Raises:
        ValueError: the name is not one of ``ci``, ``cpu``, ``gpu``, ``$COURSE_MAX_STEPS``
            is not a positive integer, or ``$COURSE_AMP`` is not ``auto``, ``fp32`` or
            ``bf16``.
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
    prof = replace(PROFILES[key], device=device, **precision_for(key, device))
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

"""How long each notebook takes at the ``gpu`` profile on a Colab T4: a projection from FLOPs.

The course's reference learner GPU is the one Colab gives for free: an NVIDIA T4 (16 GB,
fp16 tensor cores, no bfloat16). Until ``make gpu-check`` has measured a notebook on a real
GPU, its time there is *projected* from what the notebook trains, with a stated model of the
device:

    seconds of a run = steps x (pairs per step x FLOP per pair / R + c)

* FLOP per training pair: counted by ``torch.utils.flop_counter`` on one eager fp32 step of
  each model at the gpu profile's sizes (:func:`course_lib.benchmark.train_flops_per_pair`;
  pix2pix's 86.9 GFLOP is the number ``docs/training_at_scale.md`` pins). They are pinned in
  :data:`TRAIN_GFLOP_PER_PAIR`; a slow test recounts them.
* ``R``, the effective throughput: 8 TFLOP/s with fp16 autocast (12 % of the T4's 65 TFLOP/s
  dense fp16 tensor-core peak; the T4 runs at 70 W and drops its clocks under sustained
  load), 3.5 TFLOP/s in float32 (43 % of its 8.1 TFLOP/s).
* ``c``, a fixed cost per step: 25 ms (an eager GAN step launches about a thousand small
  kernels, plus Python, the optimizers and the loss read-outs; it dominates at batch 1).
* CPU work on Colab's two cores: rendering the procedural pairs (seconds per item measured
  on the course's 2-core machine), 30 s of imports, plots and evaluation per notebook.

These are assumptions, not measurements: the projection is labelled as such wherever it is
printed, and ``docs/gpu_measured.md`` replaces it once a GPU has run ``make gpu-check``.

The module does arithmetic on a :class:`~course_lib.profiles.Profile` (it imports no network
except to read pix2pixHD's batch size from its setup), so :func:`course_lib.setup` can print a
notebook's projection in its header.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from course_lib.profiles import PROFILES, Profile

__all__ = ["Device", "T4", "TRAIN_GFLOP_PER_PAIR", "Run", "notebook_runs", "NOTEBOOKS",
           "projected_seconds", "projection_table", "current_notebook", "header_note",
           "measured_minutes", "MEASURED_JSON"]


@dataclass(frozen=True)
class Device:
    """The throughput model of a GPU (see the module docstring)."""

    name: str
    memory_gib: float
    peak_fp16_tflops: float
    effective_tflops_amp: float
    effective_tflops_fp32: float
    seconds_per_step: float


T4 = Device(name="Colab T4", memory_gib=16.0, peak_fp16_tflops=65.0,
            effective_tflops_amp=8.0, effective_tflops_fp32=3.5, seconds_per_step=0.025)

# GFLOP of one training step per pair at the gpu profile's sizes (torch.utils.flop_counter,
# eager fp32, counted on a CPU by course_lib.benchmark.train_flops_per_pair):
TRAIN_GFLOP_PER_PAIR: dict[str, float] = {
    "pix2pix": 86.9,              # U-Net-256 + 70x70 PatchGAN at 256 px (Isola et al. 6.1)
    "pix2pixhd": 796.4,           # G1 (9 blocks, ngf 64) + 2-scale D at 256x512
    "pix2pixhd_enhancer": 1456.6,  # G1 + G2 (ngf 32) + 3-scale D at 512x1024, joint phase
    "pix2pixhd_blocks": 805.1,    # blocks_setup's G1 (4 down-samplings, 9 blocks) at 256x512
    "pix2pixhd_blocks_enhancer": 1460.1,  # that G1 + G2 at 512x1024, joint phase
    "bicyclegan": 113.5,          # the hybrid: G, E, D and D2 at 256 px, per pair
    "bicyclegan_recipe": 0.089,   # the hybrid in shapes_recipe's setting: 32 px, ngf/ndf 16
    # the FCN-score segmenter, per image: 400 steps of 4 images at 256 px (23 GFLOP a step)
    "segmenter": 5.7,
}
# CPU seconds to render one procedural pair (one thread of the course's 2-core machine).
RENDER_SECONDS: dict[str, float] = {"facades": 0.013, "shapes": 0.005, "streets": 0.065,
                                    "streets_2x": 0.49, "blocks": 0.0033, "blocks_2x": 0.014}
NOTEBOOK_OVERHEAD_S = 30.0
SEGMENTER_STEPS = 400
SEGMENTER_BATCH = 4


@dataclass(frozen=True)
class Run:
    """One training run of a notebook: ``count`` runs of ``steps`` steps of ``batch`` pairs."""

    kind: str
    steps: int
    batch: int
    count: int = 1
    amp: bool = True
    what: str = ""


def notebook_runs(name: str, P: Profile) -> tuple[list[Run], dict[str, int]]:
    """The training runs of notebook ``name`` (e.g. ``"04_pix2pix"``) at profile ``P``, as
    the solution notebook computes them from ``P.steps``, and the pairs it renders.

    Mirrors the notebooks' cells; ``tests/test_gpu_budget.py`` checks the list against the
    notebooks' step expressions.
    """
    S, B = P.steps, P.batch_size
    seg = Run("segmenter", SEGMENTER_STEPS, SEGMENTER_BATCH, what="FCN-score segmenter")
    facades = {"facades": P.train_size + P.eval_size}
    if name == "00_data":
        return [seg], {"facades": P.train_size + P.eval_size + 40, "shapes": 40,
                       "streets": 8}
    if name == "01_conditional_gan":
        return [Run("pix2pix", S, B, 2, what="cGAN, GAN")], facades
    if name == "02_unet":
        return [Run("pix2pix", S, B, 2, what="encoder-decoder, U-Net")], facades
    if name == "03_patchgan":
        return [Run("pix2pix", max(1, S // 2), B, 5, what="five patch sizes")], facades
    if name == "04_pix2pix":
        half = max(1, S // 2)
        return [Run("pix2pix", half, B, 4, what="L1, cGAN, L1+GAN, L1+cGAN"),
                Run("pix2pix", max(2, half // 10), B, 1, what="resume demo")], facades
    if name == "05_pix2pixhd":
        # pix2pixHD's batch is its setup's (the one place that sizes its networks); imported
        # here, at call time, as the experiments sit above this module.
        from course_lib.experiment_pix2pixhd import blocks_setup, hd_setup

        steps = max(2, S // 4)
        phase = max(1, steps // 3)
        pairs = P.train_size + P.eval_size
        return [Run("pix2pixhd_blocks", steps, blocks_setup(P).batch_size, 5,
                    what="five G1 runs on the blocks"),
                Run("pix2pixhd_blocks_enhancer", 2 * phase,
                    blocks_setup(P, enhancers=1).batch_size, 1,
                    what="G1 + G2 on the blocks (G1 frozen, then joint)"),
                Run("pix2pixhd", steps, hd_setup(P).batch_size, 1,
                    what="instance features on the streets"),
                Run("segmenter", SEGMENTER_STEPS, SEGMENTER_BATCH * 2, 1,
                    what="the blocks' segmenter at 256x512")], \
            {"blocks": pairs, "blocks_2x": pairs, "streets": pairs}
    if name == "06_bicyclegan":
        # notebook 06 trains in shapes_recipe's setting at every profile but ci (imported at
        # call time, as the experiments sit above this module)
        from course_lib.experiment_bicyclegan import shapes_recipe

        R = shapes_recipe(P)
        short = max(2, R.steps * 3 // 5)
        return [Run("bicyclegan_recipe", R.steps, R.profile.batch_size, 2,
                    what="pix2pix+noise, BicycleGAN"),
                Run("bicyclegan_recipe", short, R.profile.batch_size, 5,
                    what="2 cVAE-GAN, cLR-GAN, BicycleGAN (z to input), pix2pix+noise "
                         "(pix2pix's D)")], \
            {"shapes": R.train_size + P.eval_size}
    if name == "07_beyond":
        return [Run("pix2pix", S, B, 1, amp=False,
                    what="the command line (float32 unless --amp)")], \
            {"facades": 2 * (P.train_size + P.eval_size)}
    raise ValueError(f"unknown notebook {name!r}: use one of {', '.join(NOTEBOOKS)}")


NOTEBOOKS: tuple[str, ...] = ("00_data", "01_conditional_gan", "02_unet", "03_patchgan",
                              "04_pix2pix", "05_pix2pixhd", "06_bicyclegan", "07_beyond")


def run_seconds(run: Run, device: Device = T4,
                step_seconds: dict[str, float] | None = None) -> float:
    """Projected seconds of ``run`` on ``device`` (see the module docstring), or, when
    ``step_seconds`` has its kind (``"pix2pix"``; ``"pix2pix_fp32"`` for a float32 run), from
    that measured time per step at the run's batch."""
    key = run.kind if run.amp else f"{run.kind}_fp32"
    if step_seconds and key in step_seconds:
        return run.count * run.steps * step_seconds[key]
    rate = (device.effective_tflops_amp if run.amp else device.effective_tflops_fp32) * 1e12
    flops = TRAIN_GFLOP_PER_PAIR[run.kind] * 1e9 * run.batch
    return run.count * run.steps * (flops / rate + device.seconds_per_step)


def projected_seconds(name: str, P: Profile | None = None, device: Device = T4,
                      step_seconds: dict[str, float] | None = None) -> float:
    """Projected wall time of notebook ``name`` at profile ``P`` (default: gpu) on ``device``;
    ``step_seconds`` (seconds per training step by model kind, as ``make gpu-check`` measures
    them) replace the FLOP model for those kinds."""
    P = P or PROFILES["gpu"]
    runs, rendered = notebook_runs(name, P)
    return (sum(run_seconds(r, device, step_seconds) for r in runs) + NOTEBOOK_OVERHEAD_S
            + sum(RENDER_SECONDS[k] * n for k, n in rendered.items()))


def projection_table(P: Profile | None = None, device: Device = T4) -> list[dict[str, Any]]:
    """One row per notebook: its runs, the pairs it trains on, the projected minutes."""
    P = P or PROFILES["gpu"]
    rows = []
    for name in NOTEBOOKS:
        runs, _ = notebook_runs(name, P)
        rows.append({"notebook": name,
                     "runs": "; ".join(f"{r.count} x {r.steps} steps x {r.batch} ({r.kind}"
                                       f"{'' if r.amp else ', fp32'})" for r in runs),
                     "minutes": projected_seconds(name, P, device) / 60})
    return rows


# --------------------------------------------------------------------------- the header

MEASURED_JSON = Path(__file__).resolve().parents[1] / "docs" / "gpu_measured.json"


def measured_minutes(name: str, path: Path | None = None) -> tuple[float, str] | None:
    """``(minutes, device)`` of notebook ``name`` as ``make gpu-check`` measured it, if it has."""
    path = path or MEASURED_JSON
    try:
        data = json.loads(path.read_text())
        return float(data["notebooks"][name]["minutes"]), str(data["device"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def current_notebook() -> str | None:
    """The course notebook this kernel runs (``"04_pix2pix"``), when the front end says so:
    ``$JPY_SESSION_NAME`` (JupyterLab, Notebook 7) or ``__session__``/``__vsc_ipynb_file__``
    in the IPython namespace (ipykernel, VS Code). ``None`` elsewhere (nbclient, Colab)."""
    candidates = [os.environ.get("JPY_SESSION_NAME", "")]
    try:
        from IPython import get_ipython  # type: ignore[attr-defined]

        shell = get_ipython()
        if shell is not None:
            ns = shell.user_ns
            candidates += [str(ns.get("__session__", "")), str(ns.get("__vsc_ipynb_file__", ""))]
    except ImportError:
        pass
    for c in candidates:
        stem = Path(c).stem if c else ""
        if stem in NOTEBOOKS:
            return stem
    return None


def header_note(name: str | None = None) -> str:
    """What :func:`course_lib.setup` prints about the gpu profile's time on a T4: this
    notebook's measured or projected minutes, or every notebook's when it is not known."""
    name = name or current_notebook()
    if name is not None:
        measured = measured_minutes(name)
        if measured is not None:
            return f"gpu profile: {measured[0]:.0f} min measured on {measured[1]}"
        return f"gpu profile on a {T4.name}: ~{projected_seconds(name) / 60:.0f} min projected"
    mins = " ".join(f"{n[:2]}:{projected_seconds(n) / 60:.0f}" for n in NOTEBOOKS)
    return f"gpu profile on a {T4.name}, projected minutes per notebook {mins}"

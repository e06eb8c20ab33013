"""Measure a CUDA GPU for the course in one command (``make gpu-check``), in about 5-8 minutes.

    python tools/gpu_check.py                  # measure, write docs/gpu_measured.md, fill README
    python tools/gpu_check.py --steps 100      # time 100 steps per training cell (50-200)
    python tools/gpu_check.py --no-readme      # leave README.md alone

What it does, on the first CUDA device:

1. **Memory check first.** The estimated memory of every notebook's main training cell at the
   gpu profile (:func:`course_lib.benchmark.estimate_train_memory`, float32, +20 % and the
   CUDA context) against the device's memory; too little: a message naming the cell and a
   non-zero exit, before anything is measured or written.
2. **The pix2pix speed settings** (``course_lib bench``'s measurement) at 256 px, batch 1 and
   16: eager fp32, channels_last, the device's autocast (bf16 where the GPU has it, else fp16
   with a gradient scaler), autocast + channels_last + fused Adam, and the same
   ``torch.compile``'d: pairs/s, the ratio to eager fp32 and the model-FLOP utilisation
   against the device's peak (a table of data-sheet peaks; ``--peak-tflops`` otherwise).
3. **Each notebook's main training cell** at the gpu profile, with the defaults a notebook
   gets on this device (autocast, cudnn benchmarking): pix2pix (notebooks 01-04, 07),
   pix2pixHD G1 and G1 + local enhancer (05), BicycleGAN (06); ``--steps`` timed steps after
   a few warm-up steps. Each notebook's wall time is then projected from these step times
   (the runs it trains, :mod:`course_lib.gpu_budget`, plus its CPU work).
4. **Writes** ``docs/gpu_measured.md`` (device, torch and CUDA versions, the tables) and
   ``docs/gpu_measured.json`` (read by :func:`course_lib.setup`'s header), each atomically
   (a temporary file renamed over the old one: never half-written), and fills the ``gpu``
   column of README.md's syllabus from them.

Without CUDA it exits at once with a message and status 2; too little GPU memory: status 3.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

NO_CUDA, TOO_LITTLE_MEMORY = 2, 3
# The notebooks' main training cells: (kind in course_lib.benchmark.TRAIN_KINDS, notebooks).
CELLS: dict[str, str] = {
    "pix2pix": "01-04, 07: train_variants / train_pix2pix",
    "pix2pixhd": "05: the instance-feature run on the streets (G1 at 256x512)",
    "pix2pixhd_enhancer": "05: G1 + local enhancer on the streets at 512x1024 (command line)",
    "pix2pixhd_blocks": "05: the G1 runs on the blocks (256x512)",
    "pix2pixhd_blocks_enhancer": "05: G1 + local enhancer on the blocks at 512x1024",
    "bicyclegan": "the command line's train bicyclegan (the hybrid at 256 px)",
    "bicyclegan_recipe": "06: the hybrid in shapes_recipe's setting (32 px, batch 16)",
}


class CheckError(SystemExit):
    """A clear, one-line refusal with its exit status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(status)
        self.message = message


def require_cuda() -> str:
    """The CUDA device's name, or :class:`CheckError` (status 2) when torch sees none."""
    if not torch.cuda.is_available():
        raise CheckError(
            f"make gpu-check needs a CUDA GPU, and torch {torch.__version__} sees none "
            f"(built for CUDA {torch.version.cuda or 'no CUDA'}): run it on a GPU machine "
            f"(on Colab: Runtime > Change runtime type > GPU). Nothing was measured or written.",
            NO_CUDA)
    return torch.cuda.get_device_name(0)


def check_memory(needs: dict[str, int], total_bytes: int, device: str) -> None:
    """:class:`CheckError` (status 3) when a cell's estimated memory exceeds the device's."""
    gib = 2 ** 30
    short = {k: v for k, v in needs.items() if v > total_bytes}
    if short:
        worst = max(short, key=short.__getitem__)
        raise CheckError(
            f"{device} has {total_bytes / gib:.1f} GiB; the gpu profile's {worst} cell "
            f"({CELLS.get(worst, worst)}) needs about {short[worst] / gib:.1f} GiB (estimated): "
            f"use a GPU with more memory (a 16 GB T4 is the reference). Nothing was written.",
            TOO_LITTLE_MEMORY)


# --------------------------------------------------------------------------- measuring


def bench_rows(batches: list[int], iters: int, warmup: int, peak_override: float | None,
               device: str = "cuda", size: int = 256, width: int = 64,
               with_compile: bool = True) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """pix2pix at ``size`` px per speed setting and batch: pairs/s, x eager fp32, MFU.
    (``device="cpu"`` and a small size only rehearse the code, as the tests do.)"""
    from course_lib.benchmark import Variant, flops_per_pair, measure, peak_tflops
    from course_lib.profiles import default_amp

    amp = default_amp(device)
    variants = [Variant("eager fp32"), Variant("channels_last", channels_last=True)]
    if amp is not None:
        variants += [Variant(f"{amp} autocast", amp=amp),
                     Variant(f"{amp}+cl+fused", amp=amp, channels_last=True, fused_adam=True)]
    if with_compile:
        variants.append(Variant("compile", amp=amp, channels_last=True, fused_adam=amp is not None,
                                compile_mode="default"))
    flops = flops_per_pair(size, width, width, "cpu")["train_step"]
    peak, source = peak_tflops(device, peak_override)
    rows = []
    for batch in batches:
        base = None
        for v in variants:
            r = measure(v, size, width, width, batch, device, iters, warmup)
            row = {"variant": v.name, "batch": batch, "pairs_per_s": r.pairs_per_s,
                   "ratio": None, "mfu": None, "peak_mib": r.peak_mib, "skipped": r.skipped}
            if r.pairs_per_s:
                base = r.pairs_per_s if v.name == "eager fp32" else base
                row["ratio"] = r.pairs_per_s / base if base else None
                row["mfu"] = r.pairs_per_s * flops / (peak * 1e12) if peak else None
            rows.append(row)
    return rows, {"flops_per_pair": flops, "peak_tflops": peak, "peak_source": source}


def time_cell(kind: str, steps: int, warmup: int, device: str = "cuda",
              profile: str = "gpu") -> dict[str, Any]:
    """Seconds per training step of ``kind`` at the gpu profile, as a notebook runs it
    (its default autocast and kernels on this device)."""
    from course_lib.benchmark import build_trainer
    from course_lib.profiles import get_profile, seed_everything

    cuda = device == "cuda"
    P = get_profile(profile, device=device)
    seed_everything(0, device=device)
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    model, batch = build_trainer(kind, P, device, amp=P.amp)
    for _ in range(warmup):
        model.train_step(batch)
    if cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        model.train_step(batch)
    if cuda:
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - t0) / steps
    pairs = int(batch["B"].shape[0])
    del model, batch
    peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else None
    if not cuda:
        seed_everything(0, device="cpu")
    return {"kind": kind, "batch": pairs, "amp": P.amp, "seconds_per_step": seconds,
            "pairs_per_s": pairs / seconds, "peak_mib": peak}


# --------------------------------------------------------------------------- writing


def notebook_minutes(step_seconds: dict[str, float]) -> dict[str, dict[str, float]]:
    """Per notebook: minutes from the measured step times, and the FLOP-model projection."""
    from course_lib.gpu_budget import NOTEBOOKS, projected_seconds

    return {nb: {"minutes": projected_seconds(nb, step_seconds=step_seconds) / 60,
                 "flop_model_minutes": projected_seconds(nb) / 60} for nb in NOTEBOOKS}


def _f(x: Any, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def render_markdown(report: dict[str, Any]) -> str:
    """``docs/gpu_measured.md`` from a report (see :func:`main` for its fields)."""
    b = report["bench_meta"]
    lines = [
        "# Measured on a GPU (`make gpu-check`)", "",
        f"Device: **{report['device']}** ({report['memory_gib']:.1f} GiB); torch "
        f"{report['torch']}, CUDA {report['cuda']}; measured {report['date']} by "
        "`tools/gpu_check.py` (written by the tool: rerun it rather than editing).", "",
        "## pix2pix at 256 px: speed settings", "",
        f"{report['bench_iters']} timed steps after {report['bench_warmup']} warm-up steps per "
        f"row; {b['flops_per_pair'] / 1e9:.1f} GFLOP per pair per step; MFU against "
        f"{b['peak_source']}" + (f" ({b['peak_tflops']:.0f} TFLOP/s)." if b["peak_tflops"]
                                 else "."), "",
        "| setting | batch | pairs/s | x eager fp32 | MFU | peak MiB |",
        "|---|---|---|---|---|---|"]
    for r in report["bench"]:
        if r["skipped"]:
            lines.append(f"| {r['variant']} | {r['batch']} | skipped: {r['skipped']} | | | |")
        else:
            mfu = None if r["mfu"] is None else 100 * r["mfu"]
            lines.append(f"| {r['variant']} | {r['batch']} | {_f(r['pairs_per_s'], '.1f')} | "
                         f"{_f(r['ratio'], '.2f')} | {_f(mfu, '.1f')}{'%' if mfu else ''} | "
                         f"{_f(r['peak_mib'], '.0f')} |")
    lines += ["", "## The notebooks' main training cells at the gpu profile", "",
              f"{report['cell_steps']} timed steps each, with the notebook defaults on this "
              "device (autocast, cudnn benchmarking).", "",
              "| cell | notebooks | batch | precision | s/step | pairs/s | peak MiB |",
              "|---|---|---|---|---|---|---|"]
    for c in report["cells"]:
        lines.append(f"| {c['kind']} | {CELLS.get(c['kind'], '')} | {c['batch']} | "
                     f"{c['amp'] or 'fp32'} | {c['seconds_per_step']:.3f} | "
                     f"{c['pairs_per_s']:.1f} | {_f(c['peak_mib'], '.0f')} |")
    lines += ["", "## Each notebook's wall time at the gpu profile", "",
              "Projected from the step times above (the runs each notebook trains, "
              "`course_lib.gpu_budget`, plus its CPU work: rendering, evaluation, plots), next "
              "to the FLOP-model projection for a Colab T4 made before any measurement.", "",
              "| notebook | from measured step times (min) | FLOP model, Colab T4 (min) |",
              "|---|---|---|"]
    for nb, m in report["notebooks"].items():
        lines.append(f"| {nb} | {m['minutes']:.1f} | {m['flop_model_minutes']:.1f} |")
    return "\n".join(lines) + "\n"


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never a
    half-written one (:func:`course_lib.run_dir.write_text_atomic`)."""
    from course_lib.run_dir import write_text_atomic

    write_text_atomic(path, text)


_ROW = re.compile(r"^\| (0\d) \| `(\d\d_[a-z0-9_]+)` \|")


def fill_readme_gpu_column(text: str, cells: dict[str, str]) -> str:
    """README text with the last cell (``gpu``) of each syllabus row set from ``cells``
    (``{"04_pix2pix": "12 min ..."}``); other lines are left exactly as they are."""
    out = []
    for line in text.split("\n"):
        m = _ROW.match(line)
        if m and m.group(2) in cells:
            head = line.rstrip().rstrip("|").rstrip()
            head = head[:head.rfind("|") + 1]
            line = f"{head} {cells[m.group(2)]} |"
        out.append(line)
    return "\n".join(out)


def readme_cells(report: dict[str, Any]) -> dict[str, str]:
    """The README's gpu column from a report."""
    device = report["device"]
    return {nb: f"{m['minutes']:.0f} min on a {device} (from measured step times, "
                f"`docs/gpu_measured.md`)" for nb, m in report["notebooks"].items()}


def write_outputs(report: dict[str, Any], docs: Path, readme: Path | None) -> list[Path]:
    """Write the Markdown, the JSON and (optionally) the README; each one atomically."""
    md = render_markdown(report)                 # rendered before anything is written
    data = json.dumps({"device": report["device"], "date": report["date"],
                       "notebooks": report["notebooks"]}, indent=1) + "\n"
    new_readme = None
    if readme is not None:
        new_readme = fill_readme_gpu_column(readme.read_text(encoding="utf-8"),
                                            readme_cells(report))
    written = []
    for path, text in ((docs / "gpu_measured.md", md), (docs / "gpu_measured.json", data)):
        write_atomic(path, text)
        written.append(path)
    if readme is not None and new_readme is not None:
        write_atomic(readme, new_readme)
        written.append(readme)
    return written


# --------------------------------------------------------------------------- main


def measure_all(device_name: str, total_bytes: int, steps: int, bench_iters: int,
                peak_tflops: float | None, device: str = "cuda", profile: str = "gpu",
                bench_size: int = 256, bench_width: int = 64, warmup: int = 5,
                with_compile: bool = True, out: Callable[[str], None] = print
                ) -> dict[str, Any]:
    """Steps 2 and 3 of the module docstring; returns the report :func:`write_outputs`
    writes. (``device="cpu"`` with the ci profile and a small size rehearses the code.)"""
    from course_lib.benchmark import TRAIN_KINDS
    from course_lib.profiles import PROFILES

    out(f"pix2pix speed settings at {bench_size} px, batch 1 and 16 ...")
    bench, meta = bench_rows([1, 16], bench_iters, warmup, peak_tflops, device, bench_size,
                             bench_width, with_compile)
    cells = []
    for kind in TRAIN_KINDS:
        out(f"timing {steps} steps of {kind} at the {profile} profile ...")
        try:
            cells.append(time_cell(kind, steps, warmup, device, profile))
        except torch.cuda.OutOfMemoryError as err:
            raise CheckError(f"{device_name} ran out of memory in the {kind} cell "
                             f"({CELLS[kind]}): {str(err).splitlines()[0]}. Nothing was "
                             "written.", TOO_LITTLE_MEMORY) from None
    step_seconds = {c["kind"]: c["seconds_per_step"] for c in cells}
    eager16 = next((r["pairs_per_s"] for r in bench
                    if r["variant"] == "eager fp32" and r["batch"] == 16 and r["pairs_per_s"]),
                   None)
    if eager16:   # notebook 07 trains through the command line: float32 unless --amp
        step_seconds["pix2pix_fp32"] = PROFILES[profile].batch_size / eager16
    return {"device": device_name, "memory_gib": total_bytes / 2**30,
            "torch": torch.__version__, "cuda": torch.version.cuda,
            "date": time.strftime("%Y-%m-%d"), "bench": bench, "bench_meta": meta,
            "bench_iters": bench_iters, "bench_warmup": warmup, "cells": cells,
            "cell_steps": steps, "notebooks": notebook_minutes(step_seconds)}


def main(argv: list[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50,
                        help="timed steps per training cell, 50-200 (default 50)")
    parser.add_argument("--bench-iters", type=int, default=20,
                        help="timed steps per speed setting (default 20)")
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="the device's peak TFLOP/s, if it is not in the table")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs", help="where to write")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--no-readme", action="store_true", help="leave README.md alone")
    args = parser.parse_args(argv)
    if not 50 <= args.steps <= 200:
        parser.error(f"--steps must lie in 50..200, got {args.steps}")
    try:
        device = require_cuda()
        from course_lib.benchmark import TRAIN_KINDS, estimate_train_memory
        from course_lib.profiles import PROFILES

        t0 = time.perf_counter()
        total = torch.cuda.get_device_properties(0).total_memory
        out(f"{device}: {total / 2**30:.1f} GiB; estimating each cell's memory ...")
        needs = {k: estimate_train_memory(k, PROFILES["gpu"]).with_overheads()
                 for k in TRAIN_KINDS}
        check_memory(needs, total, device)
        report = measure_all(device, total, args.steps, args.bench_iters, args.peak_tflops,
                             out=out)
        written = write_outputs(report, args.docs, None if args.no_readme else args.readme)
        out(render_markdown(report))
        out(f"wrote {', '.join(str(p) for p in written)} in "
            f"{time.perf_counter() - t0:.0f} s")
        return 0
    except CheckError as err:
        print(err.message, file=sys.stderr)
        return int(err.code)  # type: ignore[arg-type]


if __name__ == "__main__":
    raise SystemExit(main())

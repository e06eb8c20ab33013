#!/usr/bin/env python3
"""Train longer than a notebook can afford: the runs behind the notebooks' "longer run" numbers.

Notebooks 05 and 06 train for a few minutes per run; some of the papers' effects need more
steps than that on a CPU, and the notebooks quote what longer runs of the same settings give.
This tool reproduces those runs, with the notebooks' data, networks and seed::

    OMP_NUM_THREADS=1 python tools/long_runs.py pix2pixhd --steps 3000    # ~55 min, 1 thread
    OMP_NUM_THREADS=1 python tools/long_runs.py bicyclegan --steps 24000  # ~95 min, 1 thread

* ``pix2pixhd``: the four G1 runs of notebook 05's boundary-map and D-scales ablations
  (pix2pixHD, no boundary map, one 16x16 D, three 16x16 D scales; Wang et al. 2018,
  Sec. 3.2-3.3), each scored with the FCN-score and the touching-object accuracy.
* ``bicyclegan``: notebook 06's BicycleGAN (z to all layers, batch norm; Zhu et al. 2017,
  Sec. 3.4), its modes counted every ``--eval-every`` steps on 16 outlines and at the end on
  all of them.

Every run checkpoints under ``--runs`` (default ``runs/long``): interrupt it and start the same
command again to continue; a finished run is only evaluated. The last lines printed are a
Markdown table. Not part of the test suite (a smoke test runs it at the ``ci`` profile).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from course_lib.session import setup

HD_VARIANTS = ("pix2pixHD", "no boundary map", "single D (16x16)", "3 scales (16x16)")


def long_pix2pixhd(profile: str, steps: int, runs: Path, progress: bool) -> str:
    """Notebook 05's boundary-map and D-scales runs at ``steps`` steps; a Markdown table."""
    from course_lib.experiment import segmenter_for
    from course_lib.experiment_pix2pixhd import hd_setup, streets_pairs, train_hd_variants
    from course_lib.train.pix2pixhd import Pix2PixHDConfig

    P = setup(profile, seed=0, verbose=False)      # as the notebooks: seeds, deterministic ops
    train = streets_pairs(P, "train", progress=progress)
    val = streets_pairs(P, "val", progress=progress)
    segmenter = segmenter_for(P, train, progress=progress)
    settings = {
        "pix2pixHD": {},
        "no boundary map": {"config": Pix2PixHDConfig(use_boundary=False)},
        "single D (16x16)": {"setup": hd_setup(P, num_D=1, n_layers_D=1)},
        "3 scales (16x16)": {"setup": hd_setup(P, num_D=3, n_layers_D=1)},
    }
    rows = ["| run | per-pixel acc | class IoU | touching acc | class-edge acc | minutes |",
            "|---|---|---|---|---|---|"]
    for name in HD_VARIANTS:
        start = time.perf_counter()
        run = train_hd_variants(P, train, val, {name: settings[name]},
                                run_root=runs / "05_pix2pixhd" / P.name / f"{steps}_steps",
                                steps=steps, segmenter=segmenter, progress=progress)[name]
        ev = run.evaluation
        minutes = (time.perf_counter() - start) / 60
        print(f"{name}: {ev}", flush=True)
        rows.append(f"| {name} | {ev.fcn.pixel_acc:.3f} | {ev.fcn.class_iou:.3f} | "
                    f"{ev.boundary.accuracy:.3f} | {ev.boundary.class_accuracy:.3f} | "
                    f"{minutes:.1f} |")
    return "\n".join(rows)


def long_bicyclegan(profile: str, steps: int, runs: Path, eval_every: int | None,
                    progress: bool) -> str:
    """Notebook 06's BicycleGAN (z to all, batch norm) at ``steps`` steps; a Markdown table."""
    from course_lib.data import InMemoryPairs, SyntheticShapes
    from course_lib.experiment_bicyclegan import encoded_mode_accuracy, train_bicyclegan

    P = setup(profile, seed=0, verbose=False)
    train = InMemoryPairs(SyntheticShapes(image_size=P.image_size, split="train"),
                          P.train_size, progress=progress)
    val = InMemoryPairs(SyntheticShapes(image_size=P.image_size, split="val"), P.eval_size,
                        progress=progress)
    every = max(1, steps // 4) if eval_every is None else eval_every
    start = time.perf_counter()
    run = train_bicyclegan(P, train, val, variant="bicyclegan", where_add="all", norm="batch",
                           steps=steps, seed=0, eval_every=every, progress=progress,
                           run_dir=runs / "06_bicyclegan" / P.name / f"{steps}_steps",
                           name=f"BicycleGAN, {steps} steps")
    print(f"{run!r}: {time.perf_counter() - start:.0f} s in this call", flush=True)
    print(encoded_mode_accuracy(run.G, run.E, val), flush=True)
    rows = ["| steps | modes covered | valid-mode rate | modes per input | diversity |",
            "|---|---|---|---|---|"]
    evals = [(e, f"{s}") for s, e in run.evals if s < run.step]
    if run.evaluation is not None:
        evals.append((run.evaluation, f"{run.step} ({run.evaluation.num_inputs} outlines)"))
    for ev, label in evals:
        rows.append(f"| {label} | {ev.covered} / {ev.num_modes} | {ev.valid_rate:.0%} | "
                    f"{ev.modes_per_input:.2f} | {ev.diversity:.3f} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", choices=("pix2pixhd", "bicyclegan"))
    parser.add_argument("--steps", type=int, required=True, help="training steps of each run")
    parser.add_argument("--profile", default="cpu", help="ci, cpu or gpu (default cpu)")
    parser.add_argument("--runs", type=Path, default=Path("runs") / "long",
                        help="folder for the checkpoints (default runs/long)")
    parser.add_argument("--eval-every", type=int, default=None,
                        help="bicyclegan: count modes every this many steps (default steps/4)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be at least 1, got {args.steps}")
    if args.eval_every is not None and args.eval_every < 0:
        parser.error(f"--eval-every must be >= 0, got {args.eval_every}")
    progress = not args.no_progress
    if args.model == "pix2pixhd":
        table = long_pix2pixhd(args.profile, args.steps, args.runs, progress)
    else:
        table = long_bicyclegan(args.profile, args.steps, args.runs, args.eval_every, progress)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())

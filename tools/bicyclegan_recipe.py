"""BicycleGAN's claim in the laptop setting of :func:`course_lib.experiment_bicyclegan.shapes_recipe`.

Trains the variants compared in notebook 06 (the same data, budget, discriminators, GAN loss
and seed for each) with the recipe's settings: 32 px, solid fills, silhouette inputs, 128
training outlines, ngf = ndf = 16, batch 16, Adam 1e-3, 5 000 steps, batch normalization,
dropout in G, the paper's losses and weights. The variants of one seed pair train side by side
(one process and one CPU thread each) on a CPU with a core per variant. Prints and saves, on
64 validation outlines and 64 training outlines x 12 codes: valid fills per input, per-input
diversity, fills covered, the valid-mode rate, the share of outputs with a training outline's
own fill, the curve of the first two over training (every ``--eval-every`` steps, 16 outlines
each), and for variants with an encoder how often G(A, E(B)) has B's fill. Runs are resumable
(``runs/recipe/<profile>/d<data seed>_t<training seed>/<run>``, the runs named as in notebook
06, whose own runs on pair (0, 0) are ``runs/06_bicyclegan/<profile>/d0_t0/<run>``: pass
``--runs runs/06_bicyclegan`` to share them)::

    python tools/bicyclegan_recipe.py --variants bicyclegan pix2pix+noise \\
        --seeds 0,0 1,1 2,2 --json docs/seeds/bicyclegan_recipe.json

About 3 to 4½ minutes per seed pair on the course's 2-core machine (bf16).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from seed_spread import parse_pair  # noqa: E402  (one parser for DATA,TRAIN)

VARIANTS = {  # name -> (variant, where z enters, the run's name in notebook 06)
    "bicyclegan": ("bicyclegan", "all", "BicycleGAN (z to all)"),
    "bicyclegan-input": ("bicyclegan", "input", "BicycleGAN (z to input)"),
    "pix2pix+noise": ("pix2pix+noise", "input", "pix2pix+noise"),
    "pix2pix+noise-all": ("pix2pix+noise", "all", "pix2pix+noise (z to all)"),
    "pix2pix+noise-pix2pix-d": ("pix2pix+noise", "input", "pix2pix+noise (pix2pix's D)"),
    "cvae-gan": ("cvae-gan", "all", "cVAE-GAN"),
    "clr-gan": ("clr-gan", "all", "cLR-GAN"),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", nargs="+", default=["bicyclegan", "pix2pix+noise"],
                    choices=sorted(VARIANTS))
    ap.add_argument("--seeds", nargs="+", type=parse_pair, default=[(0, 0)],
                    help="(data seed, training seed) pairs, e.g. 0,0 1,1")
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--steps", type=int, default=None, help="default: the recipe's")
    ap.add_argument("--runs", type=Path, default=Path("runs") / "recipe")
    ap.add_argument("--json", type=Path, default=None, help="write every number here")
    ap.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    ap.add_argument("--train-size", type=int, default=None,
                    help="training outlines (default: the recipe's)")
    ap.add_argument("--eval-every", type=int, default=250,
                    help="steps between the trajectory's evaluations (0: none)")
    ap.add_argument("--side-by-side", action=argparse.BooleanOptionalAction, default=None,
                    help="train the variants at once, one process and thread each (default: "
                         "on a CPU with a core per variant)")
    args = ap.parse_args(argv)

    from course_lib.data import InMemoryPairs, SyntheticShapes
    from course_lib.experiment_bicyclegan import (encoded_mode_accuracy, shapes_recipe,
                                                  train_bicyclegan_variants)
    from course_lib.session import setup

    P = setup(args.profile)
    R = shapes_recipe(P, train_size=args.train_size)
    steps = args.steps or R.steps
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    print(f"recipe: {R}" + ("" if steps == R.steps else f" (run for {steps} steps)"))
    results: dict[str, dict] = {}
    for d, t in args.seeds:
        train = InMemoryPairs(SyntheticShapes(split="train", seed=d, **R.data),
                              R.train_size, progress=progress)
        val = InMemoryPairs(SyntheticShapes(split="val", seed=d, **R.data),
                            R.profile.eval_size, progress=progress)
        variants = {VARIANTS[name][2]: {
            "variant": VARIANTS[name][0], "where_add": VARIANTS[name][1],
            "config": R.config_for(VARIANTS[name][0], steps,
                                   pix2pix_d=name == "pix2pix+noise-pix2pix-d")}
            for name in args.variants}
        key_of = {VARIANTS[name][2]: name for name in args.variants}
        t0 = time.perf_counter()
        runs = train_bicyclegan_variants(
            R.profile, train, val, variants, run_root=args.runs / P.name / f"d{d}_t{t}",
            norm="batch", steps=steps, seed=t, progress=progress, eval_every=args.eval_every,
            train_eval=min(64, R.train_size), side_by_side=args.side_by_side)
        wall = time.perf_counter() - t0
        for name, run in runs.items():
            row = {**run.evaluation.as_dict(), "seconds": run.seconds,
                   "train": run.train_evaluation.as_dict(),
                   "trajectory": {"val16": [(s, e.as_dict()) for s, e in run.evals],
                                  "train16": [(s, e.as_dict()) for s, e in run.train_evals]}}
            line = (f"[d{d}_t{t}] {name}: {run.evaluation}\n"
                    f"    on training outlines: {run.train_evaluation}")
            if run.E is not None:
                enc = encoded_mode_accuracy(run.G, run.E, val)
                row["encoded_accuracy"] = enc.accuracy
                line += f"\n    {enc}"
            print(line, flush=True)
            results[f"d{d}_t{t}/{key_of[name]}"] = row
        results[f"d{d}_t{t}/wall_seconds"] = wall
        if args.json is not None:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"recipe": str(R), "steps": steps,
                                             "departures": list(R.departures),
                                             "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

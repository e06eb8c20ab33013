#!/usr/bin/env python3
"""Notebook 05's boundary-map and multi-scale claims on several seed pairs (the blocks scenes).

For each seed pair ``(d, t)``: the blocks drawn with ``SyntheticBlocks(seed=d)`` (train and val,
``blocks_pairs``), their own FCN-score segmenter (``blocks_segmenter``, cached per data seed),
and every network and batch order seeded by ``t``; then exactly the notebook's G1 runs
(``course_lib.experiment_boundary.train_boundary_runs``): with the map, without it, one 16x16
D, three scales of it, no feature matching. Runs checkpoint under ``--runs`` (default ``runs/claims``, shared with
``tests/test_claims_pix2pixhd.py``) in ``05_pix2pixhd/<profile>/blocks_d<d>_t<t>/<variant>``
(the pair (0, 0) in the notebook's ``05_pix2pixhd/<profile>/blocks/<variant>``);
start the same command again to continue, finished runs are only evaluated. ``--variants``
trains a subset (to run two one-thread processes side by side), and a later call with all of
them collects every number.

    OMP_NUM_THREADS=1 python tools/hd_seeds.py --seeds 0,0 1,1 2,2 \\
        --json docs/seeds/pix2pixhd_blocks_d0_t0_d1_t1_d2_t2_bf16.json

Cost at the ``cpu`` profile: five G1 runs of 500 steps per pair, 100 to 200 s each on one
CPU thread in bf16 (the slower ones while other jobs shared the 2 cores), plus the blocks'
segmenter per data seed (about 40 s).

Output: a table per pair (``boundary_table``), the claims per pair, and with ``--json`` every
number per pair, with the command line that produced it.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any, Sequence

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))              # this checkout's course_lib, not an installed one


def parse_pair(text: str) -> tuple[int, int]:
    """``"DATA,TRAIN"`` -> ``(DATA, TRAIN)``."""
    try:
        d, t = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a seed pair is 'DATA,TRAIN' (two ints), got {text!r}")
    return d, t


def run_root(runs: Path, profile: str, d: int, t: int) -> Path:
    """``<runs>/05_pix2pixhd/<profile>/blocks_d<d>_t<t>``; the pair (0, 0) is the notebook's own
    folder ``<runs>/05_pix2pixhd/<profile>/blocks`` (``--runs solutions/runs`` evaluates the
    runs of an executed notebook)."""
    base = runs / "05_pix2pixhd" / profile
    return base / "blocks" if (d, t) == (0, 0) else base / f"blocks_d{d}_t{t}"


def enhancer_numbers(P: Any, g1: Any, val: Any, d: int, t: int, root: Path,
                     progress: bool) -> dict[str, Any]:
    """Notebook 05's section 6 on a pair: G1 + G2 at twice the size around the pair's "with
    the map" G1 (166 steps with G1 frozen, 166 jointly at the cpu profile), against G1's
    output upsampled; seam depth, sharpness inside, L1 (no segmenter, as the notebook)."""
    import torch.nn.functional as F

    from course_lib.experiment_pix2pixhd import (blocks_pairs, evaluate_outputs, hd_outputs,
                                                 train_pix2pixhd)
    from course_lib.train.pix2pixhd import Pix2PixHDConfig

    steps = max(2, P.steps // 4)
    fix = joint = max(1, steps // 3)
    big_train = blocks_pairs(P, "train", seed=d, enhancers=1, progress=progress)
    big_val = blocks_pairs(P, "val", seed=d, enhancers=1, progress=progress)
    run = train_pix2pixhd(P, big_train, big_val, global_generator=g1.G, seed=t,
                          config=Pix2PixHDConfig(fix_global_steps=fix), steps=fix + joint,
                          eval_at=[fix], segmenter=None, name="G1 + G2", progress=progress,
                          run_dir=root / "enhancer")
    up = F.interpolate(hd_outputs(g1.model, val), scale_factor=2, mode="bilinear",
                       align_corners=False)
    out = {}
    evals = [("G1 upsampled", evaluate_outputs(up, big_val, None, seams=True))]
    if run.evals:                   # a run folder trained without eval_at has none
        evals.append(("G1 + G2, G1 frozen", run.evals[0][1]))
    evals.append(("G1 + G2, joint", run.evaluation))
    for name, ev in evals:
        out[name] = {"seam_depth": ev.seams.depth, "sharpness_inside": ev.sharpness_inside,
                     "l1": ev.l1, "touching_contrast": ev.boundary.contrast}
    out["seconds"] = run.seconds
    return out


def features_numbers(P: Any, t: int, runs: Path, progress: bool) -> dict[str, Any]:
    """Notebook 05's section 7 with training seed ``t``: G with instance features on the
    streets, L1 to the photos with each object's encoded features and with a random cluster."""
    from course_lib.experiment_pix2pixhd import (evaluate_outputs, fit_feature_clusters,
                                                 hd_outputs, streets_pairs, train_pix2pixhd)
    from course_lib.train.pix2pixhd import Pix2PixHDConfig

    train = streets_pairs(P, "train", progress=progress)
    val = streets_pairs(P, "val", progress=progress)
    folder = "streets" if t == 0 else f"streets_t{t}"
    run = train_pix2pixhd(P, train, val, config=Pix2PixHDConfig(use_features=True),
                          steps=max(2, P.steps // 4), segmenter=None, seed=t,
                          name="with instance features", progress=progress,
                          run_dir=runs / "05_pix2pixhd" / P.name / folder / "features")
    clusters = fit_feature_clusters(run, train, n_clusters=10)
    drawn = evaluate_outputs(hd_outputs(run.model, val, features=clusters), val, None)
    return {"l1_own_features": run.evaluation.l1, "l1_random_cluster": drawn.l1,
            "touching_acc_own": run.evaluation.boundary.accuracy,
            "touching_acc_random": drawn.boundary.accuracy, "seconds": run.seconds,
            "streets_data_seed": 0}


def claims(numbers: dict[str, Any]) -> dict[str, tuple[float, bool]]:
    """The claims of notebook 05 on one pair: ``{claim: (value, held)}``."""
    out: dict[str, tuple[float, bool]] = {}
    if "with the map" in numbers and "no map" in numbers:
        with_map = numbers["with the map"]["seams"]
        no_map = numbers["no map"]["seams"]
        ratio = with_map["depth"] / max(no_map["depth"], 1e-3)
        out["seam depth with the map / without (>= 2)"] = (ratio, ratio >= 2)
        diff = no_map["wrong_per_scene"] - with_map["wrong_per_scene"]
        out["wrong-place seams per scene, without - with the map (> 0)"] = (diff, diff > 0)
        acc = numbers["real"]["fcn_pixel_acc"] - numbers["with the map"]["pixel_acc"]
        out["FCN per-pixel, photos - G1 with the map (<= 0.1)"] = (acc, acc <= 0.1)
    if "hidden" in numbers:
        fade = numbers["hidden"]["depth"] / max(numbers["with the map"]["seams"]["depth"], 1e-3)
        out["seam depth hidden / with the map (<= 0.5)"] = (fade, fade <= 0.5)
    if "no feature matching" in numbers and "with the map" in numbers:
        acc = numbers["with the map"]["pixel_acc"] - numbers["no feature matching"]["pixel_acc"]
        out["FCN per-pixel, with - without feature matching (> 0.02)"] = (acc, acc > 0.02)
        deep = (numbers["with the map"]["seams"]["depth"]
                - numbers["no feature matching"]["seams"]["depth"])
        out["seam depth, with - without feature matching (> 0.05)"] = (deep, deep > 0.05)
    if "enhancer" in numbers:
        e = numbers["enhancer"]
        ratio = e["G1 + G2, joint"]["sharpness_inside"] / e["G1 upsampled"]["sharpness_inside"]
        out["sharpness inside, G1 + G2 / G1 upsampled (> 1.5)"] = (ratio, ratio > 1.5)
        deep = e["G1 + G2, joint"]["seam_depth"] - e["G1 upsampled"]["seam_depth"]
        out["seam depth at 256x128, G1 + G2 - G1 upsampled (> 0)"] = (deep, deep > 0)
    if "features" in numbers:
        f = numbers["features"]
        diff = f["l1_random_cluster"] - f["l1_own_features"]
        out["L1, random cluster - own features (> 0.01)"] = (diff, diff > 0.01)
    if "1 scale (16x16)" in numbers and "3 scales (16x16)" in numbers:
        sp = numbers["spread"]
        diff = sp["1 scale (16x16)"] - sp["3 scales (16x16)"]
        out["block-colour spread, 1 scale - 3 scales (> 0)"] = (diff, diff > 0)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="+", type=parse_pair, default=[(0, 0)],
                        help="seed pairs DATA,TRAIN (default 0,0: the notebook's)")
    parser.add_argument("--variants", nargs="+", default=None,
                        help="train only these variants (default all; see boundary_variants)")
    parser.add_argument("--profile", default="cpu", help="course profile (default cpu)")
    parser.add_argument("--runs", type=Path, default=Path("runs/claims"),
                        help="root of the run folders (default runs/claims)")
    parser.add_argument("--json", type=Path, help="write every number per seed pair here")
    parser.add_argument("--enhancer", action="store_true",
                        help="also section 6: G1 + G2 around each pair's G1 with the map")
    parser.add_argument("--features", action="store_true",
                        help="also section 7: instance features on the streets (seed TRAIN)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=False)
    args = parser.parse_args(argv)

    import torch

    from course_lib.experiment_boundary import (NOTEBOOK_VARIANTS, blocks_segmenter, boundary_numbers,
                                                boundary_table, train_boundary_runs)
    from course_lib.experiment_pix2pixhd import blocks_pairs
    from course_lib.profiles import get_profile

    names = args.variants or list(NOTEBOOK_VARIANTS)
    P = get_profile(args.profile, device="cpu")
    report: dict[str, Any] = {
        "command": "python tools/hd_seeds.py " + " ".join(sys.argv[1:] if argv is None
                                                          else argv),
        "profile": P.name, "amp": P.amp, "torch": torch.__version__,
        "threads": torch.get_num_threads(), "machine": platform.processor() or platform.machine(),
        "pairs": {}}
    for d, t in args.seeds:
        t0 = time.time()
        train = blocks_pairs(P, "train", seed=d, progress=args.progress)
        val = blocks_pairs(P, "val", seed=d, progress=args.progress)
        seg = blocks_segmenter(P, train, data_seed=d, progress=args.progress)
        result = train_boundary_runs(
            P, train, val, seg, names=names, train_seed=t, progress=args.progress,
            run_root=run_root(args.runs, P.name, d, t))
        numbers = boundary_numbers(result)
        if args.enhancer and "with the map" in result.runs:
            numbers["enhancer"] = enhancer_numbers(P, result.runs["with the map"], val, d, t,
                                                   run_root(args.runs, P.name, d, t),
                                                   args.progress)
        if args.features:
            numbers["features"] = features_numbers(P, t, args.runs, args.progress)
        numbers["claims"] = {k: {"value": v, "held": h} for k, (v, h) in claims(numbers).items()}
        numbers["wall_seconds"] = time.time() - t0
        report["pairs"][f"d{d}_t{t}"] = numbers
        print(f"\n## seed pair (data {d}, train {t})\n{boundary_table(result)}")
        for k, (v, h) in claims(numbers).items():
            print(f"  {k}: {v:+.3f} {'held' if h else 'NOT held'}")
        sys.stdout.flush()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

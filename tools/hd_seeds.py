#!/usr/bin/env python3
"""Notebook 05's boundary-map and multi-scale claims on several seed pairs (the blocks scenes).

For each seed pair ``(d, t)``: the blocks drawn with ``SyntheticBlocks(seed=d)`` (train and val,
``blocks_pairs``), their own FCN-score segmenter (``blocks_segmenter``, cached per data seed),
and every network and batch order seeded by ``t``; then exactly the notebook's G1 runs
(``course_lib.experiment_boundary.train_boundary_runs``): with the map, without it, one 16x16
D, three scales of it. Runs checkpoint under ``--runs`` (default ``runs/claims``, shared with
``tests/test_claims_pix2pixhd.py``) in ``05_pix2pixhd/<profile>/blocks_d<d>_t<t>/<variant>``
(the pair (0, 0) in the notebook's ``05_pix2pixhd/<profile>/blocks/<variant>``);
start the same command again to continue, finished runs are only evaluated. ``--variants``
trains a subset (to run two one-thread processes side by side), and a later call with all of
them collects every number.

    OMP_NUM_THREADS=1 python tools/hd_seeds.py --seeds 0,0 1,1 2,2 --json docs/seeds/pix2pixhd_blocks.json

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
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=False)
    args = parser.parse_args(argv)

    import torch

    from course_lib.experiment_boundary import (BOUNDARY_VARIANTS, SCALE_VARIANTS,
                                                blocks_segmenter, boundary_numbers,
                                                boundary_table, train_boundary_runs)
    from course_lib.experiment_pix2pixhd import blocks_pairs
    from course_lib.profiles import get_profile

    names = args.variants or list(BOUNDARY_VARIANTS + SCALE_VARIANTS)
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

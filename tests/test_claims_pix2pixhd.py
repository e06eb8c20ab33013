"""pix2pixHD's claims under the `cpu` profile (slow: `make test-slow`).

The same runs as notebook 05, with the same settings, on the seed pair (data 1, training 1),
not the notebook's (0, 0): the blocks of ``SyntheticBlocks(seed=1)``, their own segmenter, and
every network and batch order seeded by 1 (``course_lib.experiment_boundary.
train_boundary_runs``, as ``tools/hd_seeds.py --seeds 1,1`` runs them). Runs checkpoint under
``$COURSE_CLAIMS_RUNS`` (default ``runs/claims``) in ``05_pix2pixhd/<profile>/blocks_d1_t1/
<variant>``, the folders of ``tools/hd_seeds.py``, so a finished seed run is only evaluated
(the settings are checked, so only identical runs are reused); the streets feature run
(training seed 1) is in ``05_pix2pixhd/<profile>/streets_t1/features``. From scratch: the segmenter
(about 40 s), five G1 runs of 500 steps (100 to 200 s each on one CPU thread in bf16), the
enhancer (about 60 s) and the feature run (about 130 s), about 15 minutes on one thread
(estimated from those runs); with the seed runs of ``tools/hd_seeds.py`` in place the test took
265 s (enhancer and feature run trained), and 42 s with every run in place. Each test
asserts what the course measured on three seed pairs
(``docs/seeds/pix2pixhd_blocks_d0_t0_d1_t1_d2_t2_bf16.json``); a claim of the paper that does not appear at this
scale is a strict ``xfail`` with the numbers in its reason.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch.nn.functional as F

from course_lib.experiment_boundary import (NOTEBOOK_VARIANTS, blocks_segmenter,
                                            train_boundary_runs)
from course_lib.experiment_pix2pixhd import (blocks_pairs, evaluate_outputs, fit_feature_clusters,
                                             hd_outputs, streets_pairs, train_pix2pixhd)
from course_lib.profiles import get_profile
from course_lib.train.pix2pixhd import Pix2PixHDConfig

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
ROOT = Path(os.environ.get("COURSE_CLAIMS_RUNS", REPO / "runs" / "claims"))
P = get_profile("cpu", device="cpu")
RUNS = ROOT / "05_pix2pixhd" / P.name
STEPS = max(2, P.steps // 4)                    # as notebook 05
DATA_SEED = TRAIN_SEED = 1                      # not the notebook's pair (0, 0)


@pytest.fixture(scope="module")
def blocks():
    train = blocks_pairs(P, "train", seed=DATA_SEED, progress=False)
    val = blocks_pairs(P, "val", seed=DATA_SEED, progress=False)
    seg = blocks_segmenter(P, train, data_seed=DATA_SEED, progress=False)
    return train, val, seg


@pytest.fixture(scope="module")
def g1(blocks):
    train, val, seg = blocks
    return train_boundary_runs(P, train, val, seg, names=NOTEBOOK_VARIANTS, steps=STEPS,
                               train_seed=TRAIN_SEED, progress=False,
                               run_root=RUNS / f"blocks_d{DATA_SEED}_t{TRAIN_SEED}")


def test_boundary_map_draws_the_seams_where_they_belong(g1):
    """Sec. 3.3, Fig. 5: with the boundary map G1 draws the seams between touching same-class
    blocks at least twice as deep as without it, puts fewer seams in the wrong place, and its
    seams fade when the instance boundaries are hidden at test time (seam depth 0.736 / 0.730 /
    0.735 with the map on the pairs (0, 0), (1, 1), (2, 2), 0.024 / 0.017 / 0.024 without, 0.000 /
    -0.000 / 0.001 hidden; wrong-place seams 0 per scene with the map, 11.9 / 11.0 / 10.1 without)."""
    with_map = g1.runs["with the map"].evaluation.seams
    no_map = g1.runs["no map"].evaluation.seams
    assert with_map.depth >= 2 * max(no_map.depth, 0.0) and with_map.depth > 0.2
    assert with_map.wrong_per_scene < no_map.wrong_per_scene
    assert g1.hidden.depth <= 0.5 * with_map.depth
    assert abs(with_map.control) < 0.05                 # no seams in the middle of blocks


def test_g1_outputs_are_recognisable(g1):
    """Every block visible: the FCN per-pixel accuracy of G1 (with the map) within 0.1 of the
    real photos' (0.999 / 0.999 / 1.000, photos 1.000)."""
    ev = g1.runs["with the map"].evaluation
    assert ev.fcn_real.pixel_acc - ev.fcn.pixel_acc <= 0.1


def test_feature_matching_helps(g1):
    """Sec. 3.2, Eq. 4-5: without feature matching the blocks stay recognisable but noisier,
    with shallower seams (per-pixel 0.928 / 0.960 / 0.944 against 0.999 / 0.999 / 1.000; seam
    depth 0.640 / 0.627 / 0.595 against 0.736 / 0.730 / 0.735)."""
    ev = {k: r.evaluation for k, r in g1.runs.items()}
    assert ev["with the map"].fcn.pixel_acc > ev["no feature matching"].fcn.pixel_acc + 0.02
    assert ev["with the map"].seams.depth > ev["no feature matching"].seams.depth + 0.05


@pytest.mark.xfail(strict=True, reason=(
    "Sec. 3.2 (multi-scale D) does not appear at 128x64: with a 16x16 PatchGAN in both arms, "
    "the block-colour spread (how alike a class's blocks are across the scene, which a 16x16 D "
    "cannot see) is 0.005 / 0.006 / 0.005 with 3 scales and 0.005 / 0.005 / 0.004 with 1 on the "
    "pairs (0, 0), (1, 1), (2, 2), both below the photos' 0.017: G1 paints every block the class "
    "colour and its own field covers the image. Remove this marker when it passes."))
def test_multiscale_d_keeps_the_scene_consistent(g1):
    """Sec. 3.2 (multi-scale D): with a 16x16 PatchGAN in both arms, three scales make the
    blocks of one class more alike across the scene than one scale (block-colour spread)."""
    assert g1.spread["3 scales (16x16)"] < g1.spread["1 scale (16x16)"] - 0.005


def test_local_enhancer_sharpens_the_seams(blocks, g1):
    """Sec. 3.2: G1 + G2 at 256x128 against G1's output upsampled: sharpness inside
    0.21 / 0.21 / 0.19 of real for G1 upsampled, 2.91 / 2.15 / 2.87 for G1 + G2; L1 0.163 / 0.159 /
    0.153 against 0.135 / 0.128 / 0.142; touching contrast 0.41 / 0.42 / 0.42 against 0.88 / 0.79 /
    0.65. The seam depth does not rise on every pair (0.611 / 0.613 / 0.617 against 0.674 / 0.641 /
    0.582), so it is not asserted."""
    _, val, _ = blocks
    big_train = blocks_pairs(P, "train", seed=DATA_SEED, enhancers=1, progress=False)
    big_val = blocks_pairs(P, "val", seed=DATA_SEED, enhancers=1, progress=False)
    fix = joint = max(1, STEPS // 3)
    run = train_pix2pixhd(P, big_train, big_val, global_generator=g1.runs["with the map"].G,
                          config=Pix2PixHDConfig(fix_global_steps=fix), steps=fix + joint,
                          eval_at=[fix], segmenter=None, name="G1 + G2", seed=TRAIN_SEED,
                          progress=False,
                          run_dir=RUNS / f"blocks_d{DATA_SEED}_t{TRAIN_SEED}" / "enhancer")
    g1_up = F.interpolate(hd_outputs(g1.runs["with the map"].model, val), scale_factor=2,
                          mode="bilinear", align_corners=False)
    up = evaluate_outputs(g1_up, big_val, None, seams=True)
    assert run.evaluation.sharpness_inside > 1.5 * up.sharpness_inside
    assert run.evaluation.l1 < up.l1
    assert run.evaluation.boundary.contrast > up.boundary.contrast + 0.1


def test_instance_features_carry_each_objects_colour():
    """Sec. 3.4: on the streets, G with each object's encoded features is closer to the photo
    than with a random cluster per object (L1 0.217 / 0.237 / 0.219 against
    0.238 / 0.256 / 0.242 with training seeds 0, 1, 2)."""
    train = streets_pairs(P, "train", progress=False)
    val = streets_pairs(P, "val", progress=False)
    run = train_pix2pixhd(P, train, val, config=Pix2PixHDConfig(use_features=True),
                          steps=STEPS, segmenter=None, name="with instance features",
                          seed=TRAIN_SEED, run_dir=RUNS / "streets_t1" / "features",
                          progress=False)
    clusters = fit_feature_clusters(run, train, n_clusters=10)
    drawn = evaluate_outputs(hd_outputs(run.model, val, features=clusters), val, None)
    assert run.evaluation.l1 < drawn.l1 - 0.01

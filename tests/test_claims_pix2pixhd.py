"""pix2pixHD's claims under the `cpu` profile (slow: `make test-slow`, ~12 min on 2 cores).

The same runs as notebook 05, with the same settings, checkpointed under
``$COURSE_CLAIMS_RUNS`` (default ``runs/claims``) in the notebook's layout
``05_pix2pixhd/<profile>/<variant>``; pointing the variable at ``solutions/runs`` reuses the
runs of an executed solution notebook (the settings are checked, so only identical runs are
reused). Each test asserts what the course measured; a claim of the paper that does not
appear at this scale is a strict ``xfail`` with the numbers in its reason.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from course_lib.experiment import segmenter_for
from course_lib.experiment_pix2pixhd import (evaluate_outputs, hd_outputs, hd_setup,
                                             streets_pairs, train_hd_variants, train_pix2pixhd)
from course_lib.profiles import get_profile
from course_lib.train.pix2pixhd import Pix2PixHDConfig

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
ROOT = Path(os.environ.get("COURSE_CLAIMS_RUNS", REPO / "runs" / "claims"))
P = get_profile("cpu", device="cpu")
RUNS = ROOT / "05_pix2pixhd" / P.name
STEPS = max(2, P.steps // 4)                    # as notebook 05


@pytest.fixture(scope="module")
def data():
    torch.manual_seed(0)
    train, val = streets_pairs(P, "train", progress=False), streets_pairs(P, "val",
                                                                          progress=False)
    return train, val, segmenter_for(P, train, progress=False)


@pytest.fixture(scope="module")
def ablations(data):
    train, val, seg = data
    return train_hd_variants(P, train, val, {
        "pix2pixHD": {},
        "no feature matching": {"config": Pix2PixHDConfig(use_feature_matching=False)},
        "no boundary map": {"config": Pix2PixHDConfig(use_boundary=False)},
        "single D (16x16)": {"setup": hd_setup(P, num_D=1, n_layers_D=1)},
        "3 scales (16x16)": {"setup": hd_setup(P, num_D=3, n_layers_D=1)},
    }, run_root=RUNS, steps=STEPS, segmenter=seg, progress=False)


def test_feature_matching_stabilises_training(ablations):
    """Sec. 3.2, Eq. 4-5: without feature matching the LSGAN alone
    degrades to noise at this scale (texture energy far above real, FCN-score collapses)."""
    ev = {k: r.evaluation for k, r in ablations.items()}
    assert ev["pix2pixHD"].fcn.pixel_acc > ev["no feature matching"].fcn.pixel_acc + 0.2
    assert ev["no feature matching"].sharpness_inside > 2 * ev["pix2pixHD"].sharpness_inside


@pytest.mark.xfail(strict=True, reason=(
    "Sec. 3.3, Fig. 5 (touching objects kept apart with the boundary map) does not appear "
    "after 500 steps at 64x128, although the streets now part touching cars with a dark crease "
    "that only the boundary map locates (a label-map blob with that crease drawn at instance "
    "boundaries scores 0.57, at class boundaries 0.05): touching accuracy 0.020 with the map, "
    "0.106 without (measured after the networks were made to match the official code; the "
    "previous networks gave 0.073 and 0.113); mean seam depth 0.013 with the map, 0.013 with "
    "the instance boundaries hidden, 0.022 without the map (photos 0.110); the outputs are "
    "still noise at the scale of a car (notebook 05). Six times longer, with the previous "
    "networks (3000 steps, `tools/long_runs.py pix2pixhd --steps 3000`, not re-run): 0.185 "
    "with the map and 0.185 without, mean seam depth 0.040 vs 0.031 without the map: the "
    "crease is still not drawn. Remove this marker when it passes."))
def test_boundary_map_separates_touching_objects(ablations):
    ev = {k: r.evaluation for k, r in ablations.items()}
    assert ev["pix2pixHD"].boundary.accuracy > ev["no boundary map"].boundary.accuracy + 0.1


@pytest.mark.xfail(strict=True, reason=(
    "Sec. 3.2 (multi-scale D): with a 16x16 PatchGAN (n_layers 1) for both arms, so that the "
    "finest D sees 1/8 of the width and the coarse scales the whole height, 3 scales do not "
    "beat 1 after 500 steps: class IoU 0.483 vs 0.497, per-pixel 0.835 vs 0.870 (notebook 05, "
    "measured after the networks were made to match the official code; the previous networks "
    "gave 0.512 vs 0.497 and 0.856 vs 0.869). At 3000 steps, with the previous networks "
    "(`tools/long_runs.py pix2pixhd --steps 3000`, not re-run) the single D is ahead: class "
    "IoU 0.616 vs 0.557, per-pixel 0.894 vs 0.821. Remove this marker when it passes."))
def test_multiscale_d_beats_a_single_d(ablations):
    ev = {k: r.evaluation for k, r in ablations.items()}
    assert ev["3 scales (16x16)"].fcn.class_iou > ev["single D (16x16)"].fcn.class_iou + 0.02
    assert ev["3 scales (16x16)"].fcn.pixel_acc > ev["single D (16x16)"].fcn.pixel_acc


def test_instance_features_help(data, ablations):
    """Sec. 3.4: with each object's encoded feature G gets closer to the photo and tells more
    touching objects apart (0.209 vs 0.224 L1, 0.086 vs 0.020 touching accuracy measured after
    the networks were made to match the official code; the FCN-score about the same, 0.794 vs
    0.774 per-pixel: the features carry colour, not layout)."""
    train, val, seg = data
    run = train_pix2pixhd(P, train, val, config=Pix2PixHDConfig(use_features=True),
                          steps=STEPS, segmenter=seg, name="with instance features",
                          run_dir=RUNS / "features", progress=False)
    base = ablations["pix2pixHD"].evaluation
    assert run.evaluation.boundary.accuracy > base.boundary.accuracy
    assert run.evaluation.l1 < base.l1 - 0.01


def test_local_enhancer_improves_on_upsampled_g1(data, ablations):
    """Sec. 3.2: G1 + G2 at full resolution against G1's output upsampled (class IoU 0.592 vs
    0.487, high-frequency energy 2.08 vs 0.10 of real, measured after the networks were made
    to match the official code)."""
    _, val, _ = data
    big_train = streets_pairs(P, "train", enhancers=1, progress=False)
    big_val = streets_pairs(P, "val", enhancers=1, progress=False)
    big_seg = segmenter_for(P, big_train, progress=False)
    fix = joint = max(1, STEPS // 3)
    run = train_pix2pixhd(P, big_train, big_val, global_generator=ablations["pix2pixHD"].G,
                          config=Pix2PixHDConfig(fix_global_steps=fix), steps=fix + joint,
                          segmenter=big_seg, name="G1 + G2", run_dir=RUNS / "enhancer",
                          progress=False)
    g1_up = F.interpolate(hd_outputs(ablations["pix2pixHD"].model, val), scale_factor=2,
                          mode="bilinear", align_corners=False)
    g1 = evaluate_outputs(g1_up, big_val, big_seg)
    assert run.evaluation.sharpness_inside > 2 * g1.sharpness_inside
    assert run.evaluation.fcn.class_iou > g1.fcn.class_iou + 0.03

"""The papers' pix2pix claims, measured under the `cpu` profile (slow: `make test-slow`).

Each test trains the same variants as its notebook (01-04), with the same settings, and
asserts the claim in the form that held on every seed pair measured so far (an ordering or a
ratio; the values per pair are in the reasons and in ``tools/seed_spread.py``'s output). The
claims are checked on a seed pair *other* than the notebooks' (0, 0), so that a claim which
only holds for the seed the notebooks quote fails here:

* ``COURSE_CLAIMS_SEEDS="d,t"`` (default ``1,1``): data seed ``d`` (``SyntheticFacades(seed=d)``
  and its own FCN-score segmenter) and training seed ``t`` (weights, dropout, batch order).
* ``COURSE_CLAIMS_AMP`` (default ``bf16``, the precision the seed pairs were measured with;
  ``profile`` or ``none`` for float32 on a CPU).
* ``COURSE_CLAIMS_RUNS`` (default ``runs/claims``): the run folders, in the layout of
  ``tools/seed_spread.py`` (``<notebook>/cpu/seeds_d<d>_t<t>_bf16/<variant>``), so the runs
  of ``python tools/seed_spread.py --seeds 1,1 --amp bf16`` are only evaluated here. The
  claims are the tool's ``CLAIMS``.

Training all rows from scratch is 17 000 steps at 64 px: about 30 minutes on a free CPU thread,
an hour or more on two busy cores; with the tool's runs in place, about two minutes.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))

import seed_spread  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(os.environ.get("COURSE_CLAIMS_RUNS", REPO / "runs" / "claims"))
SEEDS = seed_spread.parse_pair(os.environ.get("COURSE_CLAIMS_SEEDS", "1,1"))
AMP = os.environ.get("COURSE_CLAIMS_AMP", "bf16").strip().lower()
CLAIMS = {c.key: c for c in seed_spread.CLAIMS}


@pytest.fixture(scope="module")
def pair() -> seed_spread.SeedPair:
    amp: str | None = {"none": None, "fp32": None}.get(AMP, AMP)
    return seed_spread.SeedPair(*SEEDS, profile="cpu", amp=amp, runs=ROOT)


@pytest.fixture(scope="module")
def measured(pair: seed_spread.SeedPair) -> Any:
    cache: dict[str, Any] = {}

    def get(*rows: str) -> dict[str, Any]:
        for row in rows:
            if row not in cache:
                cache[row] = getattr(pair, f"row_{row}")()
                print(row, cache[row])
        return cache
    return get


def check(measured: Any, *keys: str) -> None:
    """Assert the claims ``keys`` on the measured rows, naming each failing one and its value."""
    failed = []
    for key in keys:
        claim = CLAIMS[key]
        value = claim.value(measured(*claim.rows()))
        if not claim.holds(value):
            failed.append(f"{claim.statement}: value {value:.3f} on seeds {SEEDS}")
    assert not failed, "; ".join(failed)


def test_loss_ablation_l1_blurs_and_the_cgan_restores_texture_and_colour(measured):
    """pix2pix Sec. 3.1 and 4.2, Fig. 4 and 7 (notebook 04). On seeds (0, 0), (1, 1), (2, 2):
    texture L1+cGAN / L1 6.8, 6.0, 6.2; L1's texture 0.12, 0.16, 0.11; L1+cGAN's 0.82, 0.96,
    0.67 (the former 0.75 floor failed on (2, 2)); colour spread L1+cGAN / L1 1.40, 1.35, 1.52."""
    check(measured, "texture_ratio", "l1_texture", "l1_cgan_texture", "colour_ratio")


@pytest.mark.xfail(strict=True, reason=(
    "Table 1's FCN ordering does not appear on the procedural facades at 64 px: the smooth L1 "
    "outputs keep every region's colour and edges, which is all the segmenter needs, and the "
    "GAN texture still carries artefacts after 1000 steps. L1+cGAN's class IoU minus the best "
    "of the four losses: -0.038 on seeds (0, 0) (0.553 vs L1+GAN 0.591, L1 0.590), -0.036 on "
    "(1, 1) (0.588 vs L1+GAN 0.624), -0.036 on (2, 2) (0.547 vs L1+GAN 0.583); the bar is "
    "-0.02. Facades whose classes only texture tells apart were tried and did not flip it at "
    "1000 steps (docs/instructor_guide.md, notebook 04); remove this marker when it passes."))
def test_loss_ablation_l1_cgan_has_the_best_fcn_score(measured):
    """pix2pix Table 1: L1+cGAN best or tied-best (within 0.02 IoU) of the four losses."""
    check(measured, "fcn_l1_cgan_best")


def test_unet_beats_the_encoder_decoder(measured):
    """pix2pix Sec. 4.3, Table 2, Fig. 5 (notebook 02). U-Net minus encoder-decoder on seeds
    (0, 0), (1, 1), (2, 2): per-pixel +0.246, +0.246, +0.247; class IoU +0.315, +0.312, +0.313."""
    check(measured, "unet_pixel", "unet_iou")


def test_the_discriminator_must_see_the_input(measured):
    """pix2pix Sec. 4.2, Table 1, GAN vs cGAN without L1 (notebook 01): the direction. cGAN
    minus GAN on seeds (0, 0), (1, 1) ((2, 2) not measured yet): per-pixel +0.083, +0.114;
    class IoU +0.105, +0.122; IoU own - wrong labels +0.115, +0.115."""
    check(measured, "cgan_pixel", "cgan_iou", "cgan_own_wrong")


def test_patch_size_sweep(measured):
    """pix2pix Sec. 4.4, Table 3, Fig. 6 (notebook 03): texture grows with the patch size up
    to 34x34, the 1x1 PixelGAN restores almost none, 70x70 most of it, and the whole-image D
    adds nothing on the FCN-score."""
    check(measured, "patch_pixel_low", "patch_grows_to_34", "patch_70_texture",
          "imagegan_no_better")


@pytest.mark.xfail(strict=True, reason=(
    "At 64 px the 34x34 and 70x70 fields both cover most of the image, and their textures tie: "
    "notebook 03 measured 0.756 (34x34) and 0.754 (70x70) on seeds (0, 0), far from the 0.05 "
    "margin asserted here (a bare 70x70 > 34x34 would pass or fail by the seed). Remove this "
    "marker when it passes."))
def test_patch_size_texture_grows_from_34_to_70(measured):
    """pix2pix Table 3: 70x70 restores clearly more texture than 34x34."""
    check(measured, "patch_70_vs_34")


@pytest.mark.xfail(strict=True, reason=(
    "Table 3's FCN ordering (70x70 above 1x1) does not appear at 64 px and 1000 steps: "
    "notebook 03 measured class IoU 0.593 (PixelGAN) against 0.553 (70x70) on seeds (0, 0); "
    "the smooth PixelGAN output keeps every edge. Remove this marker when it passes."))
def test_patch_size_70_beats_the_pixelgan_on_fcn(measured):
    """pix2pix Table 3: the 70x70 PatchGAN scores above the 1x1 PixelGAN."""
    check(measured, "fcn_70_beats_pixel")


def test_dropout_gives_little_diversity(measured):
    """pix2pix Sec. 3.1: "only minor stochasticity" from dropout (notebooks 02 and 04). On seeds
    (0, 0), (1, 1), (2, 2): draws' diversity / real photos' 0.14, 0.18, 0.17; spread between
    draws / error to the target 0.11, 0.16, 0.15."""
    check(measured, "dropout_diversity", "dropout_spread")

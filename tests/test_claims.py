"""The papers' claims, measured under the `cpu` profile (slow: `make test-slow`, ~30 min on 2 cores).

Each test trains the same variants as its notebook, with the same settings, and asserts the
ordering the paper reports. Runs are checkpointed under ``$COURSE_CLAIMS_RUNS`` (default
``runs/claims`` in the repository) in the notebooks' layout ``<notebook>/<profile>/<variant>``,
so a second run only evaluates; pointing the variable at ``solutions/runs`` reuses the runs of
executed solution notebooks (the settings are checked, so only identical runs are reused).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from course_lib.data import InMemoryPairs, SyntheticFacades
from course_lib.experiment import default_generator, segmenter_for, train_variants
from course_lib.models import ImageDiscriminator, PatchDiscriminator, PixelDiscriminator
from course_lib.profiles import get_profile
from course_lib.train.pix2pix import Pix2PixConfig

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
ROOT = Path(os.environ.get("COURSE_CLAIMS_RUNS", REPO / "runs" / "claims"))
P = get_profile("cpu", device="cpu")


@pytest.fixture(scope="module")
def data():
    torch.manual_seed(0)
    train = InMemoryPairs(SyntheticFacades(image_size=P.image_size, split="train"), P.train_size,
                          progress=False)
    val = InMemoryPairs(SyntheticFacades(image_size=P.image_size, split="val"), P.eval_size,
                        progress=False)
    return train, val, segmenter_for(P, train, progress=False)


def _evaluations(data, notebook, variants, steps):
    train, val, seg = data
    runs = train_variants(P, train, val, variants, run_root=ROOT / notebook / P.name,
                          steps=steps, seed=0, segmenter=seg, progress=False)
    for name, run in runs.items():
        print(name, run.evaluation)
    return {name: run.evaluation for name, run in runs.items()}


LOSS_VARIANTS = {
    "L1": dict(config=Pix2PixConfig(use_gan=False)),
    "cGAN": dict(config=Pix2PixConfig(use_l1=False)),
    "L1+GAN": dict(config=Pix2PixConfig(conditional=False)),
    "L1+cGAN": dict(config=Pix2PixConfig()),
}


def test_loss_ablation_l1_blurs_and_the_cgan_restores_texture_and_colour(data):
    """pix2pix Sec. 3.1 and 4.2, Fig. 4 and 7 (notebook 04)."""
    ev = _evaluations(data, "04_pix2pix", LOSS_VARIANTS, steps=P.steps // 2)
    assert 0.75 <= ev["L1+cGAN"].sharpness_inside <= 1.25, "L1+cGAN texture not within 25% of real"
    assert ev["L1"].sharpness_inside < 0.6, "L1 alone should have well under real texture"
    assert ev["L1"].color_spread < ev["L1+cGAN"].color_spread, "L1 should narrow the colours"


@pytest.mark.xfail(strict=True, reason=(
    "Table 1's FCN ordering does not appear on the procedural facades at 64 px: the smooth L1 "
    "outputs keep every region's colour and edges, which is all the segmenter needs, and the "
    "GAN texture still carries artefacts after 1000 steps (notebook 04 gives the numbers; after "
    "the networks were made to match the official code, class IoU L1+cGAN 0.553 against "
    "L1 0.590 and L1+GAN 0.591). "
    "Facades whose classes only texture tells apart were tried and did not flip it at 1000 "
    "steps (docs/instructor_guide.md, notebook 04); remove this marker when it passes."))
def test_loss_ablation_l1_cgan_has_the_best_fcn_score(data):
    """pix2pix Table 1: L1+cGAN best or tied-best (within 0.02 IoU) of the four losses."""
    ev = _evaluations(data, "04_pix2pix", LOSS_VARIANTS, steps=P.steps // 2)
    best = max(e.fcn.class_iou for e in ev.values())
    assert ev["L1+cGAN"].fcn.class_iou >= best - 0.02


def test_unet_beats_the_encoder_decoder(data):
    """pix2pix Sec. 4.3, Table 2, Fig. 5 (notebook 02)."""
    ev = _evaluations(data, "02_unet", {
        "encoder-decoder": dict(generator=lambda: default_generator(P, skip=False)),
        "U-Net": dict(generator=lambda: default_generator(P, skip=True)),
    }, steps=P.steps)
    assert ev["U-Net"].fcn.pixel_acc > ev["encoder-decoder"].fcn.pixel_acc
    assert ev["U-Net"].fcn.class_iou > ev["encoder-decoder"].fcn.class_iou


@pytest.mark.xfail(strict=True, reason=(
    "Notebook 03, measured after the networks were made to match the official code: texture "
    "inside regions 0.137 (PixelGAN), 0.393 (16x16), 0.756 (34x34), 0.754 (70x70), 0.782 "
    "(ImageGAN), so 34x34 and 70x70 tie and the strict ordering asserted here fails by 0.002 "
    "(the previous networks gave 0.12 < 0.34 < 0.64 < 0.83). The other assertions hold: "
    "PixelGAN 0.137 < 0.3, 70x70 0.754 within 0.75-1.25, ImageGAN IoU 0.545 <= 70x70 IoU "
    "0.553 + 0.02. Remove this marker when it passes."))
def test_patch_size_sweep(data):
    """pix2pix Sec. 4.4, Table 3, Fig. 6 (notebook 03): texture grows with the patch size, the
    1x1 PixelGAN restores almost none, 70x70 most of it, and the whole-image D adds nothing on
    the FCN-score. (The paper's FCN ordering 70x70 > 1x1 does not appear at 64 px and 1000
    steps; notebook 03 shows why, and this test does not claim it.)"""
    ev = _evaluations(data, "03_patchgan", {
        "PixelGAN": dict(discriminator=lambda: PixelDiscriminator(6, ndf=P.ndf)),
        **{f"PatchGAN {r}x{r}": dict(discriminator=lambda n=n: PatchDiscriminator(
            6, ndf=P.ndf, n_layers=n)) for n, r in ((1, 16), (2, 34), (3, 70))},
        "ImageGAN": dict(discriminator=lambda: ImageDiscriminator(6, ndf=P.ndf,
                                                                  image_size=P.image_size)),
    }, steps=P.steps // 2)
    texture = [ev[name].sharpness_inside for name in
               ("PixelGAN", "PatchGAN 16x16", "PatchGAN 34x34", "PatchGAN 70x70")]
    assert texture == sorted(texture), f"texture should grow with the field: {texture}"
    assert texture[0] < 0.3 and 0.75 <= texture[-1] <= 1.25
    assert ev["ImageGAN"].fcn.class_iou <= ev["PatchGAN 70x70"].fcn.class_iou + 0.02

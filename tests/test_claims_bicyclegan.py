"""BicycleGAN's claim, measured under the `cpu` profile (slow: `pytest -m slow`, minutes).

Zhu et al., NeurIPS 2017, Sec. 4 and Fig. 6: pix2pix with a noise input ignores the noise,
while BicycleGAN gives diverse *and* realistic outputs. On the shapes dataset (K = 6 fill
modes) that reads: BicycleGAN covers at least 5 of the 6 modes with most outputs being a valid
mode, pix2pix+noise covers at most 2. The runs are those of notebook 06 (same variants, steps
and seed), checkpointed under ``$COURSE_CLAIMS_RUNS`` (default ``runs/claims``) in the layout
``06_bicyclegan/<profile>/<variant>``; pointing the variable at ``solutions/runs`` reuses the
runs of an executed solution notebook (the settings are checked, so only identical runs are
reused).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from course_lib.data import InMemoryPairs, SyntheticShapes
from course_lib.experiment_bicyclegan import train_bicyclegan
from course_lib.profiles import get_profile

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
ROOT = Path(os.environ.get("COURSE_CLAIMS_RUNS", REPO / "runs" / "claims"))
P = get_profile("cpu", device="cpu")
STEPS = P.steps // 2          # as notebook 06


@pytest.fixture(scope="module")
def data():
    torch.manual_seed(0)
    train = InMemoryPairs(SyntheticShapes(image_size=P.image_size, split="train"), P.train_size,
                          progress=False)
    val = InMemoryPairs(SyntheticShapes(image_size=P.image_size, split="val"), P.eval_size,
                        progress=False)
    return train, val


def _run(data, folder: str, **kwargs):
    train, val = data
    run = train_bicyclegan(P, train, val, steps=STEPS, seed=0, progress=False,
                           run_dir=ROOT / "06_bicyclegan" / P.name / folder, **kwargs)
    print(run.name, run.evaluation)
    return run.evaluation


def test_pix2pix_with_noise_ignores_z(data):
    ev = _run(data, "pix2pix_noise", variant="pix2pix+noise", where_add="input",
              name="pix2pix+noise")
    assert ev.covered <= 2, f"pix2pix+noise covers {ev.covered} of 6 modes"
    assert ev.modes_per_input < 1.5


@pytest.mark.xfail(strict=True, reason=(
    "Not reproduced yet at the cpu profile's scale: after 1000 steps BicycleGAN's outputs follow "
    "z (diversity 0.07) but are blends of fills, 0 of 6 modes and 0 % valid (tuning numbers in "
    "docs/instructor_guide.md, notebook 06). Remove this marker when it passes."))
def test_bicyclegan_covers_the_modes_with_valid_outputs(data):
    ev = _run(data, "BicycleGAN_z_to_all_", variant="bicyclegan", where_add="all",
              name="BicycleGAN (z to all)")
    assert ev.covered >= 5, f"BicycleGAN covers only {ev.covered} of 6 modes"
    assert ev.valid_rate > 0.5, f"only {ev.valid_rate:.0%} of BicycleGAN's outputs are modes"

"""BicycleGAN's claim, measured under the `cpu` profile (slow: `pytest -m slow`, minutes).

Zhu et al., NeurIPS 2017, Sec. 4 and Fig. 6: pix2pix with a noise input ignores the noise,
while BicycleGAN gives diverse *and* realistic outputs. On the shapes dataset (K = 6 fill
modes) that reads: BicycleGAN covers at least 5 of the 6 modes with most outputs being a valid
mode; pix2pix+noise's outputs change less than half as much with z as BicycleGAN's. Notebook
06 adds a finding of its own: with the paper's instance normalization, a short run teaches G to
ignore E's code, with batch normalization it does not. The runs are those of notebook 06 (same
variants, normalization, steps and seed), checkpointed under ``$COURSE_CLAIMS_RUNS`` (default ``runs/claims``) in the layout
``06_bicyclegan/<profile>/<norm>/<variant>``; pointing the variable at ``solutions/runs`` reuses the
runs of an executed solution notebook (the settings are checked, so only identical runs are
reused).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from course_lib.data import InMemoryPairs, SyntheticShapes
from course_lib.experiment_bicyclegan import encoded_mode_accuracy, train_bicyclegan
from course_lib.profiles import get_profile

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
ROOT = Path(os.environ.get("COURSE_CLAIMS_RUNS", REPO / "runs" / "claims"))
P = get_profile("cpu", device="cpu")
STEPS = P.steps // 2          # as notebook 06
NORM = "batch"                # as notebook 06


@pytest.fixture(scope="module")
def data():
    torch.manual_seed(0)
    train = InMemoryPairs(SyntheticShapes(image_size=P.image_size, split="train"), P.train_size,
                          progress=False)
    val = InMemoryPairs(SyntheticShapes(image_size=P.image_size, split="val"), P.eval_size,
                        progress=False)
    return train, val


def _train(data, folder: str, norm: str = NORM, **kwargs):
    train, val = data
    run = train_bicyclegan(P, train, val, steps=STEPS, seed=0, progress=False, norm=norm,
                           run_dir=ROOT / "06_bicyclegan" / P.name / norm / folder, **kwargs)
    print(run.name, run.evaluation)
    return run


def _run(data, folder: str, **kwargs):
    return _train(data, folder, **kwargs).evaluation


@pytest.fixture(scope="module")
def bicycle(data):
    return _run(data, "BicycleGAN_z_to_all", variant="bicyclegan", where_add="all",
                name="BicycleGAN (z to all)")


def test_pix2pix_with_noise_ignores_z(data, bicycle):
    """Sec. 3.1 and Fig. 6: z barely changes pix2pix+noise's output. Measured at 1000 steps
    with batch norm, after the networks were made to match the official code: diversity 0.066
    against BicycleGAN's 0.173, 0.02 fills per input (z moves the colour of a blend a little, it
    does not pick a fill). Coverage is not asserted: with under 1 % of outputs valid, the fill
    reached (1 of 6) is a chance hit among blends."""
    ev = _run(data, "pix2pix_noise", variant="pix2pix+noise", where_add="input",
              name="pix2pix+noise")
    assert ev.diversity < 0.5 * bicycle.diversity, (ev.diversity, bicycle.diversity)
    assert ev.modes_per_input < 1.5


@pytest.mark.xfail(strict=True, reason=(
    "Not reproduced at the cpu profile's 1000 steps: with batch norm BicycleGAN's outputs change "
    "with z (diversity 0.173) but none is a clean fill, 0 of 6 fills and 0 % valid (notebook 06, "
    "section 5, measured after the networks were made to match the official code; the previous "
    "networks gave 3 of 6 and 2 %). A 24000-step run of the previous networks reached 6 of 6 "
    "fills with 50 % valid (test_a_long_run_reaches_every_fill, notebook 06; not re-run). "
    "Remove this marker when it passes."))
def test_bicyclegan_covers_the_modes_with_valid_outputs(bicycle):
    assert bicycle.covered >= 5, f"BicycleGAN covers only {bicycle.covered} of 6 modes"
    assert bicycle.valid_rate > 0.5, \
        f"only {bicycle.valid_rate:.0%} of BicycleGAN's outputs are modes"


LONG_STEPS = 24000


@pytest.mark.skipif(os.environ.get("COURSE_LONG_CLAIMS") != "1" and not (
    ROOT / "06_bicyclegan" / P.name / f"{LONG_STEPS}_steps" / "last.pt").is_file(), reason=(
    "the 24000-step BicycleGAN run takes about 95 minutes on one CPU thread: set "
    "COURSE_LONG_CLAIMS=1, or train it first with `python tools/long_runs.py bicyclegan "
    "--steps 24000 --runs runs/claims`"))
def test_a_long_run_reaches_every_fill(data):
    """Notebook 06, section 5: the same BicycleGAN trained 24 times longer. Measured with the
    networks as they were before they were made to match the official code (not re-run since):
    6 of 6 fills, 384 of 768 outputs (50 %) clean fills, 3.45 fills per outline. The claim's coverage
    holds; its realism ("most outputs") sits exactly at the bar, so this test guards the
    measured level (at least 45 % valid) and the strict claim stays the expected failure
    above."""
    train, val = data
    run = train_bicyclegan(P, train, val, variant="bicyclegan", where_add="all", norm=NORM,
                           steps=LONG_STEPS, seed=0, eval_every=LONG_STEPS // 4, progress=False,
                           run_dir=ROOT / "06_bicyclegan" / P.name / f"{LONG_STEPS}_steps")
    ev = run.evaluation
    print(ev)
    assert ev.covered >= 5, ev
    assert ev.valid_rate >= 0.45, ev
    assert ev.modes_per_input > 2.0, ev


@pytest.mark.xfail(strict=True, reason=(
    "Notebook 06, section 2, measured after the networks were made to match the official code: "
    "G(A, mu(B)) has B's fill in 16 % of 64 pairs with instance norm (chance 17 %) and 34 % with "
    "batch norm, twice chance but not the majority asserted here (the previous networks gave "
    "12 % and 75 %). Remove this marker when it passes."))
def test_instance_norm_makes_a_short_cvae_ignore_its_code(data):
    """Notebook 06, section 2: G(A, mu(B)) has B's fill at chance level with instance norm,
    far above it with batch norm, after the same steps."""
    _, val = data
    acc = {}
    for norm in ("instance", "batch"):
        run = _train(data, "cVAE-GAN", norm=norm, variant="cvae-gan",
                     name=f"cVAE-GAN ({norm} norm)")
        acc[norm] = encoded_mode_accuracy(run.G, run.E, val).accuracy
    print(acc)
    assert acc["instance"] < 0.3, acc
    assert acc["batch"] > 0.5, acc

"""BicycleGAN's claim, measured under the `cpu` profile (slow: `pytest -m slow`, minutes).

Zhu et al., NeurIPS 2017, Sec. 3.1, Sec. 4 and Fig. 6: pix2pix with a noise input ignores the
noise, while BicycleGAN gives diverse *and* realistic outputs. Notebook 06 shows it in the
laptop setting of :func:`~course_lib.experiment_bicyclegan.shapes_recipe` (128 training
outlines, so that G can fit each one's fill in the 5 000 steps; one D and GAN loss for every
variant), measured per input: BicycleGAN at least 5 of the 6 fills, at least 2.5 valid fills
per outline and at least half of its outputs valid; pix2pix+noise at most 1 valid fill per
outline and at most a fifth of BicycleGAN's per-input diversity. The notebook trains on the
(data, training) seed pair (0, 0); these tests train on (1, 1), so a pass is not the notebook's
run seen again. The two runs train side by side (one process and one thread each, about
3 to 4½ minutes on 2 cores) and are checkpointed under ``$COURSE_CLAIMS_RUNS`` (default
``runs/claims``) in ``06_bicyclegan/<profile>/d1_t1/<run>``, the layout of
``tools/bicyclegan_recipe.py --runs <root>/06_bicyclegan``, whose runs they reuse. Notebook 06 adds a finding of
its own, checked on the notebook's pair: with the paper's instance normalization a cVAE's G
ignores E's code, with batch normalization it uses it.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from course_lib.data import InMemoryPairs, SyntheticShapes
from course_lib.experiment_bicyclegan import (encoded_mode_accuracy, shapes_recipe,
                                              train_bicyclegan_variants)
from course_lib.profiles import get_profile

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
ROOT = Path(os.environ.get("COURSE_CLAIMS_RUNS", REPO / "runs" / "claims"))
P = get_profile("cpu", device="cpu")
R = shapes_recipe(P)
DATA_SEED, TRAIN_SEED = 1, 1          # the notebook trains (0, 0)
NORM = "batch"                        # as notebook 06
SHORT = R.steps * 3 // 5              # notebook 06's shorter runs (section 2): 3 000 steps


def _data(seed: int):
    train = InMemoryPairs(SyntheticShapes(split="train", seed=seed, **R.data), R.train_size,
                          progress=False)
    val = InMemoryPairs(SyntheticShapes(split="val", seed=seed, **R.data), R.profile.eval_size,
                        progress=False)
    return train, val


@pytest.fixture(scope="module")
def pair():
    """pix2pix+noise and BicycleGAN (z to all) on seed pair (1, 1), as notebook 06 section 5."""
    train, val = _data(DATA_SEED)
    variants = {"pix2pix+noise": dict(variant="pix2pix+noise", where_add="input",
                                      config=R.config_for("pix2pix+noise")),
                "BicycleGAN (z to all)": dict(variant="bicyclegan", where_add="all",
                                              config=R.config_for("bicyclegan"))}
    runs = train_bicyclegan_variants(
        R.profile, train, val, variants, steps=R.steps, seed=TRAIN_SEED, norm=NORM,
        train_eval=min(64, R.train_size), progress=False,
        run_root=ROOT / "06_bicyclegan" / P.name / f"d{DATA_SEED}_t{TRAIN_SEED}")
    for name, run in runs.items():
        print(name, run.evaluation, "| training outlines:", run.train_evaluation)
    return runs


def test_bicyclegan_covers_the_fills_per_input_with_valid_outputs(pair):
    """Measured (valid fills per outline, valid share): 3.25 and 62 % on (0, 0), 3.86 and 70 %
    on (1, 1), 3.50 and 71 % on (2, 2); 6 of 6 fills on each."""
    ev = pair["BicycleGAN (z to all)"].evaluation
    assert ev.covered >= 5, f"BicycleGAN covers only {ev.covered} of 6 fills"
    assert ev.modes_per_input >= 2.5, f"{ev.modes_per_input:.2f} valid fills per outline"
    assert ev.valid_rate >= 0.5, f"only {ev.valid_rate:.0%} of BicycleGAN's outputs are fills"


def test_pix2pix_with_noise_gives_each_input_one_answer(pair):
    """Sec. 3.1: once G fits each training outline's one fill, z changes nothing. Measured
    (valid fills per validation / training outline, per-input diversity against BicycleGAN's):
    0.05 / 0.59, 0.001 vs 0.114 on (0, 0); 0.03 / 1.00, 0.000 vs 0.104 on (1, 1); 0.08 / 1.00,
    0.000 vs 0.108 on (2, 2)."""
    noise = pair["pix2pix+noise"]
    bicycle = pair["BicycleGAN (z to all)"].evaluation
    for ev in (noise.evaluation, noise.train_evaluation):
        assert ev.modes_per_input <= 1.0, f"{ev.modes_per_input:.2f} valid fills per outline"
    assert noise.evaluation.diversity <= bicycle.diversity / 5, \
        (noise.evaluation.diversity, bicycle.diversity)


@pytest.mark.xfail(strict=True, reason=(
    "Notebook 06, section 2, in shapes_recipe's setting (3 000 steps, pair (0, 0)): G(A, mu(B)) "
    "has B's fill in 39 % of 64 pairs with instance norm and 41 % with batch norm (chance 17 %): "
    "both Gs use the code. The earlier 64 px setting (lr 2e-4, 1 000 steps) gave 16 % and 34 %. "
    "Remove this marker when it passes."))
def test_instance_norm_makes_a_short_cvae_ignore_its_code():
    """Notebook 06, section 2 (the notebook's seed pair (0, 0)): G(A, mu(B)) has B's fill at
    about chance with instance norm, far above it with batch norm, after the same steps."""
    train, val = _data(0)
    runs = train_bicyclegan_variants(
        R.profile, train, val,
        {f"cVAE-GAN ({norm} norm)": dict(norm=norm) for norm in ("instance", "batch")},
        variant="cvae-gan", config=R.config_for("cvae-gan", SHORT), steps=SHORT, seed=0,
        progress=False, run_root=ROOT / "06_bicyclegan" / P.name / "norm_check")
    acc = {name: encoded_mode_accuracy(run.G, run.E, val).accuracy for name, run in runs.items()}
    print(acc)
    assert acc["cVAE-GAN (instance norm)"] < 0.3, acc
    assert acc["cVAE-GAN (batch norm)"] > 0.5, acc

"""Notebook 06's setting for the collapse claim: the recipe's training-set size and baseline,
dropout in G as the official scripts train it, the official update order, evaluation on
training outlines, and the side-by-side runner (ci-sized, seconds)."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from course_lib.data import InMemoryPairs, SyntheticShapes
from course_lib.experiment_bicyclegan import (default_bicycle_networks, shapes_recipe,
                                              train_bicyclegan, train_bicyclegan_variants)
from course_lib.models.bicyclegan import LatentUNetGenerator, latent_dropout_levels
from course_lib.profiles import get_profile
from course_lib.train.bicyclegan import BicycleGAN, BicycleGANConfig


@pytest.fixture(scope="module")
def ci():
    P = get_profile("ci", device="cpu")
    R = shapes_recipe(P)
    train = InMemoryPairs(SyntheticShapes(split="train", **R.data), R.train_size, progress=False)
    val = InMemoryPairs(SyntheticShapes(split="val", **R.data), 8, progress=False)
    return R, train, val


def test_the_recipe_trains_few_outlines_with_one_d_and_loss_for_every_variant():
    R = shapes_recipe(get_profile("cpu", device="cpu"))
    assert R.train_size == 128 and "128 training outlines" in str(R)
    base = R.config_for("pix2pix+noise")
    hybrid = R.config_for("bicyclegan")
    for cfg in (base, hybrid):        # one D and one GAN loss for every variant
        assert (cfg.gan_mode, cfg.conditional_D, cfg.lambda_l1) == ("lsgan", False, 10.0)
        assert cfg.decay_start == 2500
    own = R.config_for("pix2pix+noise", pix2pix_d=True)
    assert (own.variant, own.gan_mode, own.conditional_D) == ("pix2pix+noise", "vanilla", True)
    assert R.config_for("cvae-gan", steps=1000).decay_start == 500
    with pytest.raises(ValueError, match=r"pix2pix\+noise baseline.s option"):
        R.config_for("bicyclegan", pix2pix_d=True)
    with pytest.raises(ValueError, match="steps must be"):
        R.config_for("bicyclegan", steps=0)
    assert shapes_recipe(get_profile("cpu", device="cpu"), train_size=256).train_size == 256
    for bad in (0, 8, -5, 1.5, True, "128"):
        with pytest.raises(ValueError, match=f"train_size={bad!r}"):
            shapes_recipe(get_profile("cpu", device="cpu"), train_size=bad)
    with pytest.raises(ValueError, match="variant='pix2pix'"):
        R.config_for("pix2pix")


def test_dropout_follows_the_official_generators():
    # add_all always has the level above the innermost with dropout (G_Unet_add_all), so the
    # 5-level U-Net of 32 px keeps one; add_input follows pix2pix (none for 5 levels).
    assert latent_dropout_levels(5, "all") == [False, True, False, False, False]
    assert latent_dropout_levels(5, "input") == [False] * 5
    for n in (6, 7, 8):
        assert latent_dropout_levels(n, "all") == latent_dropout_levels(n, "input")
        assert latent_dropout_levels(n, "all")[1:n - 4] == [True] * (n - 5)
    g = LatentUNetGenerator(num_downs=5, ngf=8, norm="batch", use_dropout=True)
    plain = LatentUNetGenerator(num_downs=5, ngf=8, norm="batch", use_dropout=False)
    assert sum(isinstance(m, torch.nn.Dropout) for m in g.modules()) == 1
    assert sum(p.numel() for p in g.parameters()) == sum(p.numel() for p in plain.parameters())
    nets = default_bicycle_networks(get_profile("ci", device="cpu"), norm="batch")
    assert nets["G"].config["use_dropout"] is True           # the training scripts' setting
    with pytest.raises(ValueError, match="use_dropout=1"):
        default_bicycle_networks(get_profile("ci", device="cpu"), use_dropout=1)


@pytest.mark.parametrize("order, expected", [("G_first", ["G", "E", "D", "D2"]),
                                              ("D_first", ["D", "D2", "G", "E"])])
def test_g_and_e_step_before_the_discriminators(order, expected):
    """The official optimize_parameters: update_G_and_E, then update_D (``"G_first"``, the
    default); ``"D_first"`` is the other order, kept as an option."""
    P = get_profile("ci", device="cpu")
    torch.manual_seed(0)
    nets = default_bicycle_networks(P, norm="batch")
    cfg = BicycleGANConfig(update_order=order)
    model = BicycleGAN(nets["G"], nets["E"], nets["D"], nets["D2"], cfg)
    steps: list[str] = []
    for name, opt in model.optimizers.items():
        step = opt.step
        opt.step = (lambda step, name: lambda *a, **k: (steps.append(name), step(*a, **k))[1])(
            step, name)
    batch = {"A": torch.randn(4, 3, 32, 32), "B": torch.rand(4, 3, 32, 32) * 2 - 1}
    out = model.train_step(batch)
    assert steps == expected
    assert {"loss_G", "loss_D", "loss_D2", "loss_z_L1"} <= set(out)
    assert all(p.requires_grad for p in model.D.parameters())      # D trainable again
    assert BicycleGANConfig().update_order == "G_first"
    with pytest.raises(ValueError, match="update_order='D'"):
        BicycleGANConfig(update_order="D")


def test_train_eval_and_dropout_options(ci, tmp_path):
    R, train, val = ci
    run = train_bicyclegan(R.profile, train, val, variant="pix2pix+noise", where_add="input",
                           norm="batch", config=R.config_for("pix2pix+noise"), steps=2,
                           eval_every=1, train_eval=8, progress=False, run_dir=tmp_path / "r")
    assert run.train_evaluation is not None and run.train_evaluation.num_inputs == 8
    ev = run.train_evaluation                    # own fill: outputs whose fill is the pair's
    own = (ev.mode_ids == train.stacked("mode")[:8, None]).float().mean().item()
    assert ev.target_rate == pytest.approx(own) and 0.0 <= ev.target_rate <= ev.valid_rate
    assert [s for s, _ in run.train_evals] == [1, 2] and [s for s, _ in run.evals] == [1, 2]
    again = train_bicyclegan(R.profile, train, val, variant="pix2pix+noise", where_add="input",
                             norm="batch", config=R.config_for("pix2pix+noise"), steps=2,
                             eval_every=1, train_eval=8, progress=False, run_dir=tmp_path / "r")
    assert [s for s, _ in again.train_evals] == [1, 2]          # kept with the checkpoint
    assert again.train_evaluation.diversity == run.train_evaluation.diversity
    before = (tmp_path / "r" / "last.pt").read_bytes()
    with pytest.raises(ValueError, match="use_dropout"):         # a changed setting: refused
        train_bicyclegan(R.profile, train, val, variant="pix2pix+noise", where_add="input",
                         norm="batch", config=R.config_for("pix2pix+noise"), steps=2,
                         use_dropout=False, progress=False, run_dir=tmp_path / "r")
    assert (tmp_path / "r" / "last.pt").read_bytes() == before
    for kwargs, match in (({"use_dropout": "yes"}, "use_dropout='yes'"),
                          ({"train_eval": -1}, "train_eval must be"),
                          ({"train_eval": 999}, "train_eval=999")):
        with pytest.raises(ValueError, match=match):
            train_bicyclegan(R.profile, train, val, steps=2, progress=False, **kwargs)


def test_side_by_side_trains_what_one_process_trains(ci, tmp_path):
    R, train, val = ci
    variants = {"pix2pix+noise": {"variant": "pix2pix+noise", "where_add": "input",
                                  "config": R.config_for("pix2pix+noise", pix2pix_d=True)},
                "BicycleGAN": {"variant": "bicyclegan", "config": R.config_for("bicyclegan")}}
    common = dict(norm="batch", steps=3, seed=1, progress=False, train_eval=8)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        alone = train_bicyclegan_variants(R.profile, train, val, variants,
                                          run_root=tmp_path / "a", side_by_side=False, **common)
    finally:
        torch.set_num_threads(threads)
    both = train_bicyclegan_variants(R.profile, train, val, variants, run_root=tmp_path / "b",
                                     side_by_side=True, **common)
    for name in variants:
        assert both[name].step == 3
        for (k, p), q in zip(alone[name].G.state_dict().items(),
                             both[name].G.state_dict().values()):
            assert torch.equal(p, q), (name, k)
        assert both[name].evaluation.diversity == alone[name].evaluation.diversity


def test_side_by_side_names_what_it_cannot_run(ci, tmp_path):
    from course_lib.side_by_side import run_side_by_side

    def local(**kwargs):
        return None

    with pytest.raises(ValueError, match="cannot import it"):
        run_side_by_side({"mine": (local, {})}, totals={"mine": 1}, progress=False)
    with pytest.raises(ValueError, match="totals has no step count"):
        run_side_by_side({"x": (train_bicyclegan, {})}, totals={}, progress=False)
    with pytest.raises(ValueError, match="side_by_side=True needs run_root"):
        R, train, val = ci
        train_bicyclegan_variants(R.profile, train, val, {"a": {}, "b": {}}, side_by_side=True)
    R, train, val = ci
    # A job that fails in its process is reported by name with its error.
    with pytest.raises(RuntimeError, match=r"bad: ValueError: steps must be an int >= 1"):
        run_side_by_side({"bad": (train_bicyclegan, {"P": R.profile, "train_set": train,
                                                      "steps": 0, "progress": False})},
                         totals={"bad": 1}, progress=False)

"""pix2pixHD's trainer and experiment helper: phases, schedule, resume, features, memory."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from course_lib.data import InMemoryPairs, SyntheticStreets
from course_lib.experiment_pix2pixhd import (fit_feature_clusters, hd_results_table, hd_setup,
                                             streets_pairs, train_pix2pixhd)
from course_lib.models import (GlobalGenerator, InstanceEncoder, LocalEnhancer,
                               MultiscaleDiscriminator)
from course_lib.profiles import get_profile
from course_lib.train.pix2pixhd import Pix2PixHD, Pix2PixHDConfig
from course_lib.train.pix2pixhd_setup import PAPER_SETUPS, HDSetup, estimate_memory

P = get_profile("ci", device="cpu")


@pytest.fixture(scope="module")
def scenes() -> dict[str, torch.Tensor]:
    ds = InMemoryPairs(SyntheticStreets(image_size=(32, 64), split="train"), 2, progress=False)
    return {k: ds.stacked(k) for k in ("B", "class_map", "instance_map")}


def _enhancer_model(config: Pix2PixHDConfig, features: bool = False) -> Pix2PixHD:
    torch.manual_seed(0)
    cin = 8 + 1 + (3 if features else 0)
    G = LocalEnhancer(cin, 3, ngf=2, n_downsample_global=2, n_blocks_global=1,
                      n_blocks_local=1)
    D = MultiscaleDiscriminator(12, ndf=4, n_layers=2, num_D=2)
    Dg = MultiscaleDiscriminator(12, ndf=4, n_layers=2, num_D=1)
    E = InstanceEncoder(3, 3, nef=2, n_downsampling=2) if features else None
    return Pix2PixHD(G, D, config, encoder=E, global_discriminator=Dg)


def _snapshot(params: list[torch.nn.Parameter]) -> list[torch.Tensor]:
    return [p.detach().clone() for p in params]


def _changed(before: list[torch.Tensor], params: list[torch.nn.Parameter]) -> bool:
    return any(not torch.equal(a, p) for a, p in zip(before, params))


def test_coarse_to_fine_phases_train_the_right_networks(scenes: dict[str, torch.Tensor]
                                                        ) -> None:
    cfg = Pix2PixHDConfig(num_classes=8, steps=6, global_steps=2, fix_global_steps=2,
                          use_features=True)
    model = _enhancer_model(cfg, features=True)
    G = model.G
    assert isinstance(G, LocalEnhancer)
    seen = []
    for _ in range(6):
        g1, g2 = _snapshot(list(G.global_generator.parameters())), _snapshot(
            G.enhancer_parameters())
        e = _snapshot(list(model.E.parameters()))  # type: ignore[union-attr]
        phase = model.phase
        out = model.train_step(scenes)
        model.schedule.step()
        seen.append((phase, _changed(g1, list(G.global_generator.parameters())),
                     _changed(g2, G.enhancer_parameters()),
                     _changed(e, list(model.E.parameters()))))  # type: ignore[union-attr]
        assert all(torch.isfinite(torch.tensor(v)) for v in out.values())
    assert seen == [("global", True, False, True)] * 2 + [("local", False, True, True)] * 2 + \
        [("joint", True, True, True)] * 2


def test_phase_one_trains_g1_at_half_resolution(scenes: dict[str, torch.Tensor]) -> None:
    cfg = Pix2PixHDConfig(num_classes=8, steps=3, global_steps=1)
    model = _enhancer_model(cfg)
    calls: list[tuple[int, ...]] = []
    hook = model.D_global.register_forward_pre_hook(  # type: ignore[union-attr]
        lambda m, args: calls.append(tuple(args[0].shape)))
    model.train_step(scenes)
    hook.remove()
    assert calls and all(c[2:] == (16, 32) for c in calls)


def test_schedule_constant_then_linear_per_stage() -> None:
    cfg = Pix2PixHDConfig(num_classes=8, steps=10, global_steps=4, fix_global_steps=2)
    model = _enhancer_model(cfg)
    lrs = {k: [] for k in model.optimizers}
    for _ in range(10):
        for k, o in model.optimizers.items():
            lrs[k].append(o.param_groups[0]["lr"] / cfg.lr)
        model.schedule.step()
    # Stage 1 (4 steps): constant for 2, then 1 - (t - 2) / 2.
    assert lrs["G_global"][:4] == [1.0, 1.0, 1.0, 0.5]
    # Stage 2 (6 steps from step 4): constant for 3, then 1 - (t - 3) / 3.
    assert lrs["G"][4:] == pytest.approx([1.0, 1.0, 1.0, 1.0, 2 / 3, 1 / 3])
    state = model.schedule.state_dict()
    model.schedule.load_state_dict({"t": 0})
    assert model.phase == "global"
    model.schedule.load_state_dict(state)
    assert model.phase == "joint" and model.step == 10


def test_training_is_deterministic(scenes: dict[str, torch.Tensor]) -> None:
    def run() -> list[dict[str, float]]:
        cfg = Pix2PixHDConfig(num_classes=8, steps=2)
        torch.manual_seed(0)
        m = Pix2PixHD(GlobalGenerator(9, 3, ngf=2, n_downsampling=2, n_blocks=1),
                      MultiscaleDiscriminator(12, ndf=4, n_layers=2, num_D=1), cfg)
        return [m.train_step(scenes), m.train_step(scenes)]
    assert run() == run()


def test_ablation_switches_change_the_inputs(scenes: dict[str, torch.Tensor]) -> None:
    cfg = Pix2PixHDConfig(num_classes=8, steps=1, use_boundary=False,
                          use_feature_matching=False)
    m = Pix2PixHD(GlobalGenerator(8, 3, ngf=2, n_downsampling=2, n_blocks=1),
                  MultiscaleDiscriminator(11, ndf=4, n_layers=2, num_D=1), cfg)
    out = m.train_step(scenes)
    assert "loss_G_FM" not in out and m.labels(scenes).shape[1] == 8
    with pytest.raises(ValueError, match="8 classes \\+ 1 boundary"):
        Pix2PixHD(GlobalGenerator(8, 3, ngf=2, n_downsampling=2, n_blocks=1),
                  MultiscaleDiscriminator(12, ndf=4, num_D=1), Pix2PixHDConfig(num_classes=8))


def test_config_and_constructor_errors() -> None:
    with pytest.raises(ValueError, match="exceed steps"):
        Pix2PixHDConfig(steps=3, global_steps=2, fix_global_steps=2)
    with pytest.raises(ValueError, match="gan_mode"):
        Pix2PixHDConfig(gan_mode="wgan")
    G = GlobalGenerator(9, 3, ngf=2, n_downsampling=2, n_blocks=1)
    D = MultiscaleDiscriminator(12, ndf=4, num_D=1)
    with pytest.raises(ValueError, match="phases of a LocalEnhancer"):
        Pix2PixHD(G, D, Pix2PixHDConfig(num_classes=8, fix_global_steps=1))
    with pytest.raises(ValueError, match="encoder"):
        Pix2PixHD(GlobalGenerator(12, 3, ngf=2, n_downsampling=2, n_blocks=1), D,
                  Pix2PixHDConfig(num_classes=8, use_features=True))
    with pytest.raises(ValueError, match="vgg_perceptual_loss"):
        Pix2PixHD(G, D, Pix2PixHDConfig(num_classes=8, use_vgg=True))


def test_hd_setup_follows_the_profile() -> None:
    cpu = get_profile("cpu", device="cpu")
    g1, g2 = hd_setup(cpu), hd_setup(cpu, enhancers=1)
    assert (g1.height, g1.width, g1.ngf, g1.num_D) == (64, 128, 32, 2)
    assert (g2.height, g2.width, g2.ngf, g2.global_ngf, g2.num_D) == (128, 256, 16, 32, 3)
    gpu = hd_setup(get_profile("gpu", device="cpu"))
    assert (gpu.ngf, gpu.n_blocks_global, gpu.num_D, gpu.batch_size) == (64, 9, 3, 2)
    assert hd_setup(get_profile("gpu", device="cpu"), enhancers=1).batch_size == 1


def test_train_resume_and_settings_check(tmp_path: Path) -> None:
    train = streets_pairs(P, "train", n=4, progress=False)
    val = streets_pairs(P, "val", n=2, progress=False)
    whole = train_pix2pixhd(P, train, val, steps=4, progress=False)
    first = train_pix2pixhd(P, train, None, steps=4, stop_after=2, run_dir=tmp_path / "r",
                            progress=False)
    assert first.step == 2 and not first.finished
    second = train_pix2pixhd(P, train, val, steps=4, run_dir=tmp_path / "r", progress=False)
    assert second.resumed_from == 2 and second.finished
    assert second.history.rows == whole.history.rows
    assert second.evaluation is not None and whole.evaluation is not None
    assert torch.equal(second.evaluation.fake, whole.evaluation.fake)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="other settings"):
        train_pix2pixhd(P, train, None, steps=4, run_dir=tmp_path / "r", progress=False,
                        config=Pix2PixHDConfig(use_boundary=False))
    assert "touching" in hd_results_table({"whole": whole})


def test_enhancer_run_from_a_trained_g1_with_eval_at() -> None:
    train = streets_pairs(P, "train", n=4, progress=False)
    g1 = train_pix2pixhd(P, train, None, steps=2, progress=False)
    big_train = streets_pairs(P, "train", n=4, enhancers=1, progress=False)
    big_val = streets_pairs(P, "val", n=2, enhancers=1, progress=False)
    assert isinstance(g1.G, GlobalGenerator)
    before = [p.clone() for p in g1.G.parameters()]
    run = train_pix2pixhd(P, big_train, big_val, steps=3, global_generator=g1.G,
                          config=Pix2PixHDConfig(fix_global_steps=2), eval_at=[2],
                          progress=False)
    assert isinstance(run.G, LocalEnhancer) and [s for s, _ in run.evals] == [2]
    assert all(torch.equal(a, p) for a, p in zip(before, g1.G.parameters()))  # a copy trains
    with pytest.raises(ValueError, match="render them"):
        train_pix2pixhd(P, big_train, None, steps=1, progress=False)


def test_feature_run_and_clusters() -> None:
    train = streets_pairs(P, "train", n=4, progress=False)
    run = train_pix2pixhd(P, train, None, steps=2, config=Pix2PixHDConfig(use_features=True),
                          progress=False)
    clusters = fit_feature_clusters(run, train, n_clusters=3)
    assert clusters.feature_dim == 3
    assert all(1 <= len(c) <= 3 for c in clusters.centres.values())


def test_memory_estimate_is_consistent() -> None:
    small = HDSetup(height=64, width=128, n_local_enhancers=1, ngf=4, n_downsample_global=2,
                    n_blocks_global=1,
                    n_blocks_local=1, ndf=4, num_D=2)
    joint = estimate_memory(small, num_classes=8, probe_factor=2)
    local = estimate_memory(small, num_classes=8, phase="local", probe_factor=2)
    ckpt = estimate_memory(small, num_classes=8, gradient_checkpointing=True, probe_factor=2)
    assert joint.activations > local.activations > 0
    assert local.parameters < joint.parameters
    assert ckpt.activations < joint.activations
    assert joint.states == 16 * joint.parameters
    assert PAPER_SETUPS["2048x1024"].global_size == (512, 1024)

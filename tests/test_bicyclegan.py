"""BicycleGAN (Zhu et al., NeurIPS 2017): networks, KL and latent losses, the trainer, the
one-call experiment and the latent explorer."""
from __future__ import annotations

import copy
import math

import pytest
import torch

from course_lib.losses import kl_divergence, latent_l1_loss
from course_lib.models import (BicycleDiscriminator, LatentEncoder, LatentUNetGenerator,
                               reparameterize)
from course_lib.models.bicyclegan import encoder_blocks
from course_lib.train.bicyclegan import (BicycleGAN, BicycleGANConfig, frozen,
                                         hybrid_generator_loss, latent_regression_loss)


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def tiny(where_add: str = "all", nz: int = 4) -> tuple[LatentUNetGenerator, LatentEncoder,
                                                        BicycleDiscriminator, BicycleDiscriminator]:
    torch.manual_seed(0)
    return (LatentUNetGenerator(nz=nz, num_downs=4, ngf=4, where_add=where_add),
            LatentEncoder(nz=nz, nef=4, n_blocks=2),
            BicycleDiscriminator(ndf=4, n_layers=1), BicycleDiscriminator(ndf=4, n_layers=1))


def batch(n: int = 4, size: int = 16, seed: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"A": torch.rand(n, 3, size, size, generator=g) * 2 - 1,
            "B": torch.rand(n, 3, size, size, generator=g) * 2 - 1}


# --------------------------------------------------------------------------- networks


def test_parameter_counts_match_the_official_networks():
    """Counts of the official networks at their defaults (unet_256, resnet_256,
    basic_256_multi with num_Ds=2; nz=8, ngf=nef=ndf=64, instance norm without affine
    parameters, a bias on every convolution), summed by hand from models/networks.py of
    junyanz/BicycleGAN:

    * G_Unet_add_all: level i (widths w = 64, 128, 256, 512, 512, 512, 512, 512) has a down
      conv ((c_in + 8) * w * 16 + w, c_in = 3 then the previous width) and an up conv
      (2w * c_out * 16 + c_out, w * c_out * 16 + c_out on the innermost level; c_out = 3 on
      the outermost level, else the previous width): 54,794,627.
    * G_Unet_add_input: the same with z (8 channels) only at the first conv: 54,417,795.
    * E_ResNet: 3 * 64 * 16 + 64 = 3,136; blocks (64->128) 119,104, (128->192) 393,728,
      (192->256) 824,000, (256->256) 1,245,952 (two 3x3 convs and a 1x1 shortcut, all with
      bias); two Linear(256, 8) 2 * 2,056: 2,590,032.
    * D_NLayersMulti: a 70x70 PatchGAN with ndf=64 (2,764,737) plus one with ndf=32 (694,241).
    """
    assert count(LatentUNetGenerator()) == 54_794_627
    assert count(LatentUNetGenerator(where_add="input")) == 54_417_795
    assert count(LatentEncoder()) == 2_590_032
    assert count(BicycleDiscriminator()) == 2_764_737 + 694_241


@pytest.mark.parametrize("where_add", ["input", "all"])
def test_generator_shapes_and_it_uses_z(where_add):
    G = LatentUNetGenerator(nz=4, num_downs=5, ngf=4, where_add=where_add)
    a = torch.rand(2, 3, 32, 32) * 2 - 1
    z0, z1 = torch.zeros(2, 4), torch.ones(2, 4)
    y0, y1 = G(a, z0), G(a, z1)
    assert y0.shape == (2, 3, 32, 32) and y0.abs().max() <= 1
    assert not torch.allclose(y0, y1), "changing z must change the output"


def test_add_to_all_feeds_z_to_every_encoder_level():
    G = LatentUNetGenerator(in_channels=3, nz=5, num_downs=4, ngf=4, where_add="all")
    downs = [m.down[-1 if m.outermost else 1] for m in G.modules() if hasattr(m, "down")]
    assert [c.in_channels for c in downs] == [3 + 5, 4 + 5, 8 + 5, 16 + 5]
    G_in = LatentUNetGenerator(in_channels=3, nz=5, num_downs=4, ngf=4, where_add="input")
    downs = [m.down[-1 if m.outermost else 1] for m in G_in.modules() if hasattr(m, "down")]
    assert [c.in_channels for c in downs] == [3 + 5, 4, 8, 16]


def test_generator_bad_inputs_are_named():
    G = LatentUNetGenerator(nz=4, num_downs=4, ngf=4)
    with pytest.raises(ValueError, match="z must be"):
        G(torch.zeros(2, 3, 16, 16), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="multiples of"):
        G(torch.zeros(1, 3, 20, 20), torch.zeros(1, 4))
    with pytest.raises(ValueError, match="where_add"):
        LatentUNetGenerator(where_add="middle")


def test_encoder_shapes_and_depth_per_size():
    assert [encoder_blocks(s) for s in (32, 64, 128, 256)] == [2, 3, 4, 5]
    E = LatentEncoder(nz=8, nef=8, n_blocks=encoder_blocks(64))
    mu, logvar = E(torch.rand(3, 3, 64, 64))
    assert mu.shape == logvar.shape == (3, 8)
    z, mu2, _ = E.encode(torch.rand(3, 3, 64, 64), generator=torch.Generator().manual_seed(0))
    assert z.shape == (3, 8)
    with pytest.raises(ValueError, match="at least"):
        E(torch.rand(1, 3, 4, 4))
    with pytest.raises(ValueError, match="power of two"):
        encoder_blocks(48)


def test_discriminator_returns_one_map_per_scale():
    D = BicycleDiscriminator(in_channels=3, ndf=8, n_layers=3, num_D=2)
    maps = D(torch.rand(2, 3, 64, 64))
    assert [tuple(m.shape) for m in maps] == [(2, 1, 6, 6), (2, 1, 2, 2)]
    assert D.scales[1].config["ndf"] == 4


# --------------------------------------------------------------------------- losses


def test_kl_against_the_closed_form():
    # mu = (1, 0), logvar = (0, log 2): 0.5 * ((1 + 1 - 1 - 0) + (0 + 2 - 1 - log 2)).
    mu = torch.tensor([[1.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(2.0)]])
    assert kl_divergence(mu, logvar).item() == pytest.approx(0.5 * (2 - math.log(2)), abs=1e-6)
    assert kl_divergence(torch.zeros(4, 8), torch.zeros(4, 8)).item() == 0.0
    # Against torch.distributions: per-sample sum over dimensions, mean over the batch.
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(5, 8, generator=g), torch.randn(5, 8, generator=g)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros(5, 8), torch.ones(5, 8))
    want = torch.distributions.kl_divergence(q, p).sum(1).mean()
    assert kl_divergence(mu, logvar).item() == pytest.approx(want.item(), rel=1e-5)
    with pytest.raises(ValueError, match="same shape"):
        kl_divergence(torch.zeros(2, 8), torch.zeros(2, 4))


def test_latent_l1_by_hand():
    assert latent_l1_loss(torch.tensor([[1.0, -1.0]]), torch.tensor([[0.0, 1.0]])).item() == 1.5
    with pytest.raises(ValueError, match="different shapes"):
        latent_l1_loss(torch.zeros(2, 8), torch.zeros(2, 4))


def test_reparameterize_statistics_gradients_and_determinism():
    mu = torch.full((20000, 2), -1.0, requires_grad=True)
    logvar = torch.full((20000, 2), math.log(0.25), requires_grad=True)   # std 0.5
    z = reparameterize(mu, logvar, generator=torch.Generator().manual_seed(0))
    assert z.mean().item() == pytest.approx(-1.0, abs=0.02)
    assert z.std().item() == pytest.approx(0.5, abs=0.02)
    z.sum().backward()
    assert torch.equal(mu.grad, torch.ones_like(mu)) and logvar.grad.abs().sum() > 0
    a = reparameterize(mu[:4], logvar[:4], generator=torch.Generator().manual_seed(3))
    b = reparameterize(mu[:4], logvar[:4], generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_latent_regression_loss_does_not_reach_the_encoder():
    G, E, _, _ = tiny()
    a, z = batch()["A"], torch.randn(4, 4)
    loss = latent_regression_loss(E, G(a, z), z)
    loss.backward()
    assert all(p.grad is None for p in E.parameters()), "E must get no gradient from L1_latent"
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in G.parameters())
    assert all(p.requires_grad for p in E.parameters()), "E must be unfrozen afterwards"
    # The same term with update_encoder=True (cLR-GAN alone, Eq. 6) does train E.
    G.zero_grad()
    latent_regression_loss(E, G(a, z), z, update_encoder=True).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in E.parameters())


def test_frozen_restores_mixed_flags():
    E = LatentEncoder(nz=2, nef=4, n_blocks=2)
    E.fc_mu.requires_grad_(False)
    with frozen(E):
        assert not any(p.requires_grad for p in E.parameters())
    assert not E.fc_mu.weight.requires_grad and E.fc_logvar.weight.requires_grad


def test_hybrid_generator_loss_is_the_weighted_sum():
    g = torch.Generator().manual_seed(0)
    ones = [torch.ones(2, 1, 3, 3), torch.ones(2, 1, 1, 1)]         # LSGAN G loss 0 each
    zeros = [torch.zeros(2, 1, 3, 3)]                               # LSGAN G loss 1
    fake, real = torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), 0.5)
    mu, logvar = torch.randn(2, 8, generator=g), torch.randn(2, 8, generator=g)
    total = hybrid_generator_loss(ones, zeros, fake, real, mu, logvar)
    want = 0.0 + 1.0 + 10 * 0.5 + 0.01 * kl_divergence(mu, logvar).item()
    assert total.item() == pytest.approx(want, rel=1e-6)


# --------------------------------------------------------------------------- the trainer


def test_config_rejects_unknown_values():
    with pytest.raises(ValueError, match="variant"):
        BicycleGANConfig(variant="bicycle")
    with pytest.raises(ValueError, match="lambda_kl"):
        BicycleGANConfig(lambda_kl=-1)
    cfg = BicycleGANConfig()
    assert (cfg.lambda_l1, cfg.lambda_kl, cfg.lambda_latent, cfg.gan_mode) == (10, 0.01, 0.5,
                                                                               "lsgan")
    assert not cfg.encoder_learns_latent and BicycleGANConfig("clr-gan").encoder_learns_latent


@pytest.mark.parametrize("variant,keys", [
    ("pix2pix+noise", {"loss_D", "loss_G_GAN", "loss_G_L1", "loss_G"}),
    ("cvae-gan", {"loss_D", "loss_G_GAN", "loss_G_L1", "loss_kl", "loss_G"}),
    ("clr-gan", {"loss_D", "loss_G_GAN", "loss_z_L1", "loss_G"}),
    ("bicyclegan", {"loss_D", "loss_D2", "loss_G_GAN", "loss_G_GAN2", "loss_G_L1", "loss_kl",
                    "loss_z_L1", "loss_G"}),
])
def test_each_variant_updates_its_networks(variant, keys):
    G, E, D, D2 = tiny()
    model = BicycleGAN(G, E, D, D2, BicycleGANConfig(variant=variant, steps=10))
    before = {k: copy.deepcopy(m.state_dict()) for k, m in model.modules.items()}
    out = model.train_step(batch())
    assert keys <= set(out) and all(math.isfinite(v) for v in out.values())
    assert set(model.modules) == ({"G", "D"} | ({"E"} if variant != "pix2pix+noise" else set())
                                  | ({"D2"} if variant == "bicyclegan" else set()))
    for k, m in model.modules.items():
        changed = any(not torch.equal(v, before[k][n]) for n, v in m.state_dict().items())
        assert changed, f"{variant}: {k} was not updated"


def test_the_hybrid_latent_term_does_not_update_the_encoder():
    """With every other term of E switched off, a hybrid step must leave E exactly as it was."""
    G, E, D, D2 = tiny()
    cfg = BicycleGANConfig(lambda_l1=0, lambda_kl=0, lambda_gan=0, steps=10)
    model = BicycleGAN(G, E, D, D2, cfg)
    before = copy.deepcopy(E.state_dict())
    out = model.train_step(batch())
    assert out["loss_z_L1"] > 0
    assert all(torch.equal(v, before[n]) for n, v in E.state_dict().items())
    # ...whereas letting the term reach E (latent_updates_E=True) changes it.
    G, E, D, D2 = tiny()
    model = BicycleGAN(G, E, D, D2, BicycleGANConfig(lambda_l1=0, lambda_kl=0, lambda_gan=0,
                                                     latent_updates_E=True, steps=10))
    before = copy.deepcopy(E.state_dict())
    model.train_step(batch())
    assert any(not torch.equal(v, before[n]) for n, v in E.state_dict().items())


def test_training_is_deterministic():
    def run() -> tuple[list[dict[str, float]], dict[str, torch.Tensor]]:
        G, E, D, D2 = tiny()
        model = BicycleGAN(G, E, D, D2, BicycleGANConfig(steps=10))
        torch.manual_seed(7)
        outs = [model.train_step(batch(seed=s)) for s in range(3)]
        return outs, G.state_dict()

    (o1, s1), (o2, s2) = run(), run()
    assert o1 == o2
    assert all(torch.equal(v, s2[k]) for k, v in s1.items())


def test_trainer_bad_inputs():
    G, E, D, D2 = tiny()
    model = BicycleGAN(G, E, D, D2, BicycleGANConfig(steps=10))
    with pytest.raises(ValueError, match="even"):
        model.train_step(batch(n=3))
    with pytest.raises(ValueError, match="encoder"):
        BicycleGAN(G, None, D, D2, BicycleGANConfig(variant="cvae-gan"))
    with pytest.raises(ValueError, match="discriminator2"):
        BicycleGAN(G, E, D, None, BicycleGANConfig())
    BicycleGAN(G, E, D, None, BicycleGANConfig(use_same_D=True)).train_step(batch())


# --------------------------------------------------------------------------- the experiment


@pytest.fixture(scope="module")
def shapes():
    from course_lib.data import InMemoryPairs, SyntheticShapes
    from course_lib.profiles import get_profile

    P = get_profile("ci", device="cpu")
    train = InMemoryPairs(SyntheticShapes(image_size=P.image_size, split="train"), 8,
                          progress=False)
    val = InMemoryPairs(SyntheticShapes(image_size=P.image_size, split="val"), 4,
                        progress=False)
    return P, train, val


def test_train_bicyclegan_evaluates_and_resumes_bit_identically(shapes, tmp_path):
    from course_lib.experiment_bicyclegan import train_bicyclegan

    P, train, val = shapes
    full = train_bicyclegan(P, train, val, steps=4, num_z=3, progress=False)
    ev = full.evaluation
    assert ev.num_inputs == 4 and ev.num_z == 3 and ev.mode_ids.shape == (4, 3)
    assert ev.samples.shape == (4, 3, 3, 32, 32) and 0 <= ev.valid_rate <= 1
    first = train_bicyclegan(P, train, None, steps=4, stop_after=2, run_dir=tmp_path / "r",
                             progress=False)
    assert first.step == 2 and not first.finished
    second = train_bicyclegan(P, train, val, steps=4, num_z=3, run_dir=tmp_path / "r",
                              progress=False)
    assert second.resumed_from == 2 and second.finished
    for k, v in full.G.state_dict().items():
        assert torch.equal(v, second.G.state_dict()[k]), k
    with pytest.raises(ValueError, match="other settings"):
        train_bicyclegan(P, train, None, steps=4, variant="cvae-gan", run_dir=tmp_path / "r",
                         progress=False)


def test_multimodal_evaluation_bounds(shapes):
    from course_lib.experiment_bicyclegan import (evaluate_multimodal, multimodal_table,
                                                  real_modes_evaluation, sample_outputs)

    _, _, val = shapes
    real = real_modes_evaluation(val)
    assert real.covered == 6 and real.valid_rate == 1.0 and real.modes_per_input == 6
    assert real.diversity > 0.05

    class IgnoresZ(torch.nn.Module):          # returns its input: one answer, no mode
        nz = 8

        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(()))

        def forward(self, a, z):
            return a * self.w

    ev = evaluate_multimodal(IgnoresZ(), val, num_z=4)
    assert ev.diversity == 0.0 and ev.valid_rate == 0.0 and ev.covered == 0
    table = multimodal_table({"ignores z": ev}, real=real)
    assert "6 / 6" in table and "0 / 6" in table
    z = torch.randn(5, 8)
    out = sample_outputs(IgnoresZ(), val.A[:2], z=z)
    assert out.shape == (2, 5, 3, 32, 32)
    with pytest.raises(ValueError, match="z must be"):
        sample_outputs(IgnoresZ(), val.A[:2], z=torch.randn(5, 3))


# --------------------------------------------------------------------------- the explorer


def test_latent_explorer_static_and_widget():
    import matplotlib

    matplotlib.use("Agg")
    from course_lib.widgets.latent import interpolate_latents, latent_explorer, widgets_available

    codes = interpolate_latents(torch.zeros(3), torch.ones(3), steps=5)
    assert codes.shape == (5, 3) and torch.allclose(codes[2], torch.full((3,), 0.5))
    G = LatentUNetGenerator(nz=3, num_downs=4, ngf=4)
    a = torch.rand(2, 3, 16, 16) * 2 - 1
    fig = latent_explorer(G, a, interactive=False, num_samples=4, steps=4)
    assert len(fig.axes) == 3 * 5
    if widgets_available():
        box = latent_explorer(G, a, interactive=True, num_samples=4, steps=4)
        assert box.children
    with pytest.raises(ValueError, match="nz"):
        latent_explorer(torch.nn.Conv2d(3, 3, 1), a, interactive=False)


# --------------------------------------------------------------------------- the cVAE check


class _CodeEncoder(torch.nn.Module):
    """E whose mean is an image's own index (read from a marker pixel), padded to nz."""

    def __init__(self, nz: int = 4) -> None:
        super().__init__()
        self.nz = nz
        self.anchor = torch.nn.Parameter(torch.zeros(()))  # so next(parameters()) works

    def forward(self, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        code = torch.zeros(b.shape[0], self.nz)
        code[:, 0] = b.mean((1, 2, 3))
        return code, torch.zeros_like(code)


class _LookupGenerator(torch.nn.Module):
    """G that returns the stored target whose mean is nearest to z[:, 0] (uses its code), or
    always the first stored target (ignores it)."""

    def __init__(self, targets: torch.Tensor, use_z: bool, nz: int = 4) -> None:
        super().__init__()
        self.targets, self.use_z, self.nz = targets, use_z, nz
        self.anchor = torch.nn.Parameter(torch.zeros(()))

    def forward(self, a: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if not self.use_z:
            return self.targets[:1].expand(a.shape[0], -1, -1, -1)
        means = self.targets.mean((1, 2, 3))
        return self.targets[(z[:, :1] - means[None]).abs().argmin(1)]


def test_encoded_mode_accuracy_separates_using_and_ignoring_the_code():
    from course_lib.data import InMemoryPairs, SyntheticShapes
    from course_lib.experiment_bicyclegan import encoded_mode_accuracy

    val = InMemoryPairs(SyntheticShapes(32, split="val"), 48, progress=False)
    targets = val.stacked("B")
    modes = torch.tensor([val[i]["mode"] for i in range(48)])
    used = encoded_mode_accuracy(_LookupGenerator(targets, True), _CodeEncoder(), val)
    assert used.accuracy == 1.0 and used.num_inputs == 48
    assert used.chance == pytest.approx(1 / 6)
    # A G that always paints the first pair's target is right exactly where that fill is.
    ignored = encoded_mode_accuracy(_LookupGenerator(targets, False), _CodeEncoder(), val)
    first = (modes == modes[0]).float().mean().item()
    # The first target drawn onto another outline keeps its fill colours only on the overlap,
    # so allow a small margin around the fraction of pairs that share its mode.
    assert ignored.accuracy <= first + 0.1
    assert "chance 17%" in str(ignored)


def test_run_json_records_the_training_data(shapes, tmp_path):
    import json

    from course_lib.data import InMemoryPairs, SyntheticShapes
    from course_lib.experiment_bicyclegan import data_description, train_bicyclegan

    P, train, _ = shapes
    assert data_description(train) == {"dataset": "shapes", "image_size": P.image_size,
                                       "fills": "patterned", "num_modes": 6, "seed": 0,
                                       "inputs": "outline"}
    solid = SyntheticShapes(image_size=(32, 32), split="train", fills="solid", num_modes=4,
                            seed=3, inputs="silhouette")
    assert data_description(InMemoryPairs(solid, 4, progress=False)) == {
        "dataset": "shapes", "image_size": [32, 32], "fills": "solid", "num_modes": 4, "seed": 3,
        "inputs": "silhouette"}
    plain = [{"A": torch.zeros(3, 8, 8), "B": torch.zeros(3, 8, 8)}]   # any paired data
    assert data_description(plain) == {"dataset": "list", "image_size": None, "fills": None,
                                       "num_modes": None, "seed": None, "inputs": None}

    run = tmp_path / "r"
    train_bicyclegan(P, train, None, steps=1, run_dir=run, progress=False)
    settings = json.loads((run / "run.json").read_text())
    assert settings["data"] == data_description(train)
    # A folder written before the data was recorded is refused with a clear message.
    del settings["data"]
    (run / "run.json").write_text(json.dumps(settings))
    with pytest.raises(ValueError, match=r"other settings \(data: None in the checkpoint"):
        train_bicyclegan(P, train, None, steps=1, run_dir=run, progress=False)


def test_bilinear_upsampling_is_the_official_option():
    """BicycleGAN's --upsample bilinear: Upsample(x2, bilinear), ReflectionPad2d(1), 3x3 conv
    per decoder level, instead of the 4x4 transposed conv; everything else unchanged."""
    basic = LatentUNetGenerator(3, 3, nz=8, num_downs=5, ngf=16, norm="batch")
    bil = LatentUNetGenerator(3, 3, nz=8, num_downs=5, ngf=16, norm="batch", upsample="bilinear")
    assert bil.config["upsample"] == "bilinear" and "upsample" not in basic.config
    ups = [m for m in bil.modules() if isinstance(m, torch.nn.Upsample)]
    assert len(ups) == 5 and all(u.mode == "bilinear" and u.scale_factor == 2 for u in ups)
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in bil.modules())
    assert sum(isinstance(m, torch.nn.ReflectionPad2d) for m in bil.modules()) == 5
    # Each up-sampling kernel shrinks from 4x4 to 3x3: 9/16 of those weights, same biases.
    def up_weights(g, kind):
        return sum(m.weight.numel() for m in g.modules() if isinstance(m, kind)
                   and (kind is torch.nn.ConvTranspose2d or m.kernel_size == (3, 3)))
    assert up_weights(bil, torch.nn.Conv2d) * 16 == up_weights(basic, torch.nn.ConvTranspose2d) * 9
    a, z = torch.randn(2, 3, 32, 32), torch.randn(2, 8)
    out = bil(a, z)
    assert out.shape == (2, 3, 32, 32) and out.abs().max() <= 1
    rebuilt = LatentUNetGenerator(**bil.config)
    rebuilt.load_state_dict(bil.state_dict())
    bil.eval(), rebuilt.eval()
    assert torch.equal(rebuilt(a, z), bil(a, z))
    with pytest.raises(ValueError, match="upsample='nearest'"):
        LatentUNetGenerator(3, 3, num_downs=5, upsample="nearest")


def test_shapes_recipe_keeps_the_losses_and_names_every_departure():
    """Notebook 06's laptop setting: the paper's loss weights, one budget for every variant,
    the data the recipe names, and the ci profile left tiny."""
    from course_lib.data import SyntheticShapes
    from course_lib.experiment_bicyclegan import shapes_recipe
    from course_lib.profiles import get_profile
    from course_lib.train.bicyclegan import BicycleGANConfig

    paper = BicycleGANConfig()
    for name in ("cpu", "gpu"):
        R = shapes_recipe(get_profile(name, device="cpu"))
        assert (R.profile.image_size, R.profile.ngf, R.profile.ndf, R.profile.batch_size) == \
            (32, 16, 16, 16)
        assert R.steps == 5000 and R.config.decay_start == 2500 and R.config.lr == 5e-4
        for w in ("lambda_l1", "lambda_kl", "lambda_latent", "lambda_gan", "lambda_gan2",
                  "gan_mode", "beta1", "beta2"):
            assert getattr(R.config, w) == getattr(paper, w), w
        assert len(R.departures) == 6 and "lr 5e-4" in " ".join(R.departures)
        assert R.train_size == 128 and "128 training outlines" in " ".join(R.departures)
        ds = SyntheticShapes(split="val", **R.data)
        assert ds.fills == "solid" and ds.inputs == "silhouette"
        assert float(ds[0]["A"][0][ds[0]["class_map"] == 1].abs().max()) == 0.0  # grey interior
        assert "5000 steps per variant" in str(R)
    ci = shapes_recipe(get_profile("ci", device="cpu"))
    assert (ci.profile.ngf, ci.profile.batch_size, ci.steps) == (8, 4, 3)

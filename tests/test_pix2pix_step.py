"""pix2pix's training step (Eq. 4): which networks each half of the step changes."""
from __future__ import annotations

import pytest
import torch

from course_lib.models import PatchDiscriminator, UNetGenerator, init_weights
from course_lib.train.pix2pix import Pix2Pix, Pix2PixConfig


def _models(conditional: bool = True) -> tuple[UNetGenerator, PatchDiscriminator]:
    torch.manual_seed(0)
    g = UNetGenerator(num_downs=4, ngf=8)
    d = PatchDiscriminator(in_channels=6 if conditional else 3, ndf=8, n_layers=2)
    init_weights(g)
    init_weights(d)
    return g, d


def _batch() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return {"A": torch.rand(2, 3, 16, 16, generator=g) * 2 - 1,
            "B": torch.rand(2, 3, 16, 16, generator=g) * 2 - 1}


def _flat(m: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten().clone() for p in m.parameters()])


def test_step_updates_both_and_reports_losses() -> None:
    g, d = _models()
    model = Pix2Pix(g, d, Pix2PixConfig(steps=10))
    g0, d0 = _flat(g), _flat(d)
    out = model.train_step(_batch())
    assert set(out) == {"loss_D", "loss_D_real", "loss_D_fake", "D_real", "D_fake",
                        "loss_G_GAN", "loss_G_L1", "loss_G"}
    assert out["loss_D"] == pytest.approx(0.5 * (out["loss_D_real"] + out["loss_D_fake"]))
    assert out["loss_G"] == pytest.approx(out["loss_G_GAN"] + 100 * out["loss_G_L1"], rel=1e-5)
    assert not torch.equal(g0, _flat(g)) and not torch.equal(d0, _flat(d))
    assert all(p.requires_grad for p in d.parameters())  # D is unfrozen after the G step


def test_l1_only_needs_no_discriminator_and_matches_plain_l1() -> None:
    g, _ = _models()
    model = Pix2Pix(g, None, Pix2PixConfig(use_gan=False, steps=10))
    out = model.train_step(_batch())
    assert set(out) == {"loss_G_L1", "loss_G"} and out["loss_G"] == pytest.approx(
        100 * out["loss_G_L1"], rel=1e-6)


def test_unconditional_discriminator_sees_only_the_output() -> None:
    g, d = _models(conditional=False)
    out = Pix2Pix(g, d, Pix2PixConfig(conditional=False, steps=10)).train_step(_batch())
    assert 0.0 < out["D_fake"] < 1.0


def test_config_refuses_no_loss_and_unknown_amp() -> None:
    with pytest.raises(ValueError, match="no loss"):
        Pix2PixConfig(use_gan=False, use_l1=False)
    with pytest.raises(ValueError, match="amp='fp8'"):
        Pix2PixConfig(amp="fp8")  # type: ignore[arg-type]
    g, _ = _models()
    with pytest.raises(ValueError, match="needs a discriminator"):
        Pix2Pix(g, None, Pix2PixConfig())

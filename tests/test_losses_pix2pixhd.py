"""pix2pixHD's losses: feature matching (Eq. 4) by hand, the VGG loss on and off."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from course_lib.losses import (PerceptualLossUnavailable, VGGPerceptualLoss,
                               feature_matching_loss, load_vgg19_features, vgg19_features,
                               vgg_perceptual_loss)


def test_feature_matching_by_hand() -> None:
    # One D with two matched layers and its logits. |1 - 0| averaged = 1 on layer 1; layer 2
    # differs by 3 in one of 2 elements -> 1.5. Weights 4/T = 2 per layer, one scale:
    # 2 * 1 + 2 * 1.5 = 5. The logits (last) differ by 7 and do not count.
    fake = [torch.ones(1, 1, 2, 2), torch.tensor([[[[3.0, 0.0]]]]), torch.full((1, 1, 1, 1), 7.0)]
    real = [torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 1, 2), torch.zeros(1, 1, 1, 1)]
    assert feature_matching_loss(fake, real).item() == pytest.approx(5.0)
    # Eq. 4 as printed (layer weight 1): 1 + 1.5.
    assert feature_matching_loss(fake, real, layer_weight=1.0).item() == pytest.approx(2.5)
    # Two scales, the second identical: averaged over num_D = 2.
    assert feature_matching_loss([fake, fake], [real, fake]).item() == pytest.approx(2.5)


def test_feature_matching_sends_gradients_to_fake_only() -> None:
    fake = [torch.randn(1, 2, 3, 3, requires_grad=True), torch.randn(1, 1, 1, 1)]
    real = [torch.randn(1, 2, 3, 3, requires_grad=True), torch.randn(1, 1, 1, 1)]
    feature_matching_loss(fake, real).backward()
    assert fake[0].grad is not None and real[0].grad is None


def test_feature_matching_bad_input() -> None:
    a = [torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 1, 1)]
    with pytest.raises(ValueError, match="scales"):
        feature_matching_loss([a, a], [a])
    with pytest.raises(ValueError, match="differ in shape"):
        feature_matching_loss(a, [torch.zeros(1, 1, 3, 3), torch.zeros(1, 1, 1, 1)])
    with pytest.raises(TypeError, match="list"):
        feature_matching_loss(torch.zeros(1), a)  # type: ignore[arg-type]


def test_vgg_loss_is_off_without_weights_and_says_why(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    missing = tmp_path / "nowhere.pth"
    with pytest.raises(PerceptualLossUnavailable, match="OFF.*no file at"):
        load_vgg19_features(missing)
    loss, message = vgg_perceptual_loss(missing)
    assert loss is None and "OFF" in message and "download.pytorch.org" in message
    assert "OFF" in capsys.readouterr().out
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(PerceptualLossUnavailable, match="not a readable"):
        load_vgg19_features(bad)


def test_vgg_weights_load_from_a_torchvision_style_file(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = vgg19_features()
    state = {f"features.{k}": v for k, v in net.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(1)            # ignored
    path = tmp_path / "vgg19.pth"
    torch.save(state, path)
    loaded = load_vgg19_features(path)
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(),
                                                 net.state_dict().values()))
    loss, message = vgg_perceptual_loss(path, verbose=False)
    assert isinstance(loss, VGGPerceptualLoss) and "ON" in message


def test_vgg_loss_with_random_weights() -> None:
    torch.manual_seed(0)
    loss = VGGPerceptualLoss(vgg19_features())
    assert len(loss.slices) == 5 and not any(p.requires_grad for p in loss.parameters())
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    assert loss(x, x).item() == 0.0
    fake = x.clone().requires_grad_(True)
    value = loss(fake, torch.rand(1, 3, 32, 32) * 2 - 1)
    assert value.item() > 0
    value.backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="of one shape"):
        loss(x, x[:, :, :16])

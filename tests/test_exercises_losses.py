"""The checker of notebook 01's exercise: the vanilla GAN loss on logits."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from course_lib.exercises import ExerciseFailed, check_gan_loss
from course_lib.exercises.losses import reference_gan_loss


def _stable(prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
    return F.softplus(-prediction if target_is_real else prediction).mean()


def _naive(prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
    p = torch.sigmoid(prediction)
    return -(torch.log(p) if target_is_real else torch.log(1 - p)).mean()


def _clamped(prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
    p = torch.sigmoid(prediction).clamp(1e-7, 1 - 1e-7)
    return -(torch.log(p) if target_is_real else torch.log(1 - p)).mean()


def _summed(prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
    return F.softplus(-prediction if target_is_real else prediction).sum()


def _per_element(prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
    return F.softplus(-prediction if target_is_real else prediction)


def _swapped(prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
    return F.softplus(prediction if target_is_real else -prediction).mean()


def _detached(prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
    return torch.tensor(_stable(prediction, target_is_real).item())


def _logaddexp(prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
    z = -prediction if target_is_real else prediction
    return torch.logaddexp(torch.zeros_like(z), z).mean()


def _logsigmoid(prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
    return -F.logsigmoid(prediction if target_is_real else -prediction).mean()


def _by_hand(prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
    z = -prediction if target_is_real else prediction
    return (z.clamp(min=0) + torch.log1p(torch.exp(-z.abs()))).mean()


def _with_logits(prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
    target = torch.ones_like(prediction) if target_is_real else torch.zeros_like(prediction)
    return F.binary_cross_entropy_with_logits(prediction, target)


def _module(prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
    return torch.nn.BCEWithLogitsLoss()(prediction, torch.full_like(prediction,
                                                                    float(target_is_real)))


def _negated(prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
    return -_stable(prediction, target_is_real)


def _in_place(prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
    p = prediction.sigmoid_()                    # overwrites D's logits with probabilities
    return -(torch.log(p) if target_is_real else torch.log(1 - p)).mean()


@pytest.mark.parametrize("fn", [_stable, _logaddexp, _logsigmoid, _by_hand])
def test_checker_accepts_correct_answers(  # type: ignore[no-untyped-def]
        fn, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSE_STRICT_EXERCISES", "1")
    assert check_gan_loss(fn) is fn
    assert "[PASS] vanilla GAN loss" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, reason", [
    (_naive, "stable form"),
    (_clamped, "clamping the probability is not enough"),
    (_summed, "average over all elements"),
    (_per_element, "scalar"),
    (_swapped, "targets are swapped"),
    (_negated, "sign is wrong"),
    (_with_logits, "binary_cross_entropy_with_logits"),
    (_module, "binary_cross_entropy_with_logits"),
    (reference_gan_loss, "binary_cross_entropy_with_logits"),
    (_detached, "differentiable"),
    (_in_place, "in place"),
])
def test_checker_names_the_mistake(wrong, reason: str,  # type: ignore[no-untyped-def]
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSE_STRICT_EXERCISES", "1")
    with pytest.raises(ExerciseFailed, match=reason):
        check_gan_loss(wrong)


def test_unfinished_exercise_falls_back_to_the_reference(capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COURSE_STRICT_EXERCISES", raising=False)

    def stub(prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        raise NotImplementedError()
    assert check_gan_loss(stub) is reference_gan_loss
    assert "[TODO] vanilla GAN loss" in capsys.readouterr().out

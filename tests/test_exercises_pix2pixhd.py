"""The checkers of notebook 05's exercises: feature matching, boundary map, pooling."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from course_lib.exercises import (ExerciseFailed, check_feature_matching_loss,
                                  check_instance_average_pool, check_instance_boundaries)
from course_lib.exercises.pix2pixhd import (reference_feature_matching_loss,
                                            reference_instance_average_pool,
                                            reference_instance_boundaries)


@pytest.fixture(autouse=True)
def strict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSE_STRICT_EXERCISES", "1")


# -- feature matching ---------------------------------------------------------------------

def _fm(fake, real, skip_last=True, detach=True, per_layer=True, per_scale=True,  # type: ignore[no-untyped-def]
        mean=True):
    total = torch.zeros(())
    for fs, rs in zip(fake, real):
        layers = list(zip(fs[:-1], rs[:-1])) if skip_last else list(zip(fs, rs))
        w = 4.0 / len(layers) if per_layer else 1.0
        for f, r in layers:
            r = r.detach() if detach else r
            d = (f - r).abs()
            total = total + w * (d.mean() if mean else d.sum())
    return total / len(fake) if per_scale else total


def _fm_stacked(fake, real):  # type: ignore[no-untyped-def]
    per_scale = []
    for fs, rs in zip(fake, real):
        t = len(fs) - 1
        per_scale.append(torch.stack([F.l1_loss(f, r.detach()) for f, r in zip(fs[:t], rs[:t])])
                         .sum() * 4.0 / t)
    return torch.stack(per_scale).mean()


def test_fm_checker_accepts_correct_answers(capsys: pytest.CaptureFixture[str]) -> None:
    assert check_feature_matching_loss(_fm) is _fm
    assert check_feature_matching_loss(_fm_stacked) is _fm_stacked
    assert check_feature_matching_loss(reference_feature_matching_loss)
    assert capsys.readouterr().out.count("[PASS] feature matching loss") == 3


@pytest.mark.parametrize("wrong, reason", [
    (lambda f, r: _fm(f, r, skip_last=False), "logits"),
    (lambda f, r: _fm(f, r, detach=False), "REAL features"),
    (lambda f, r: _fm(f, r, per_layer=False), "expected 3.0"),
    (lambda f, r: _fm(f, r, per_scale=False), "1/num_D"),
    (lambda f, r: _fm(f, r, mean=False), "expected 3.0"),
    (lambda f, r: _fm(f, r).detach(), "no gradient"),
    (lambda f, r: _fm(f[:1], r[:1]), "only the first scale counts"),
    (lambda f, r: _fm(f[-1:], r[-1:]), "only the last scale counts"),
])
def test_fm_checker_names_the_mistake(wrong, reason: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExerciseFailed, match=reason):
        check_feature_matching_loss(wrong)


# -- boundaries ---------------------------------------------------------------------------

def _right_and_down_only(m: torch.Tensor) -> torch.Tensor:
    e = torch.zeros_like(m, dtype=torch.bool)
    e[..., :, :-1] |= m[..., :, 1:] != m[..., :, :-1]
    e[..., :-1, :] |= m[..., 1:, :] != m[..., :-1, :]
    return e.float()


def _eight_neighbours(m: torch.Tensor) -> torch.Tensor:
    x = m.float()[:, None]
    hi = F.max_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, 1)
    lo = -F.max_pool2d(F.pad(-x, (1, 1, 1, 1), mode="replicate"), 3, 1)
    return (hi != lo).float()[:, 0]


def _slices(m: torch.Tensor) -> torch.Tensor:         # the notebook's solution
    e = torch.zeros_like(m, dtype=torch.bool)
    dx = m[:, :, 1:] != m[:, :, :-1]
    e[:, :, 1:] |= dx
    e[:, :, :-1] |= dx
    dy = m[:, 1:, :] != m[:, :-1, :]
    e[:, 1:, :] |= dy
    e[:, :-1, :] |= dy
    return e.float()


def _replicate_pad(m: torch.Tensor) -> torch.Tensor:  # pad by repeating the border: correct
    x = F.pad(m.float()[:, None], (1, 1, 1, 1), mode="replicate")[:, 0]
    c = x[:, 1:-1, 1:-1]
    return ((c != x[:, :-2, 1:-1]) | (c != x[:, 2:, 1:-1]) | (c != x[:, 1:-1, :-2])
            | (c != x[:, 1:-1, 2:])).float()


def _roll(m: torch.Tensor) -> torch.Tensor:           # wraps around the image's edges
    return ((m != m.roll(1, -1)) | (m != m.roll(-1, -1)) | (m != m.roll(1, -2))
            | (m != m.roll(-1, -2))).float()


def _zero_pad(m: torch.Tensor) -> torch.Tensor:       # invents id 0 outside the image
    x = F.pad(m.float()[:, None], (1, 1, 1, 1))[:, 0]
    c = x[:, 1:-1, 1:-1]
    return ((c != x[:, :-2, 1:-1]) | (c != x[:, 2:, 1:-1]) | (c != x[:, 1:-1, :-2])
            | (c != x[:, 1:-1, 2:])).float()


@pytest.mark.parametrize("fn", [reference_instance_boundaries, _slices, _replicate_pad])
def test_boundary_checker_accepts_correct_answers(fn) -> None:  # type: ignore[no-untyped-def]
    assert check_instance_boundaries(fn) is fn


@pytest.mark.parametrize("wrong, reason", [
    (_right_and_down_only, "one-sided"),
    (_eight_neighbours, "diagonal"),
    (lambda m: reference_instance_boundaries(m).bool(), "float"),
    (_roll, "torch.roll wraps around"),
    (_zero_pad, "outside the image is not a neighbour"),
    (lambda m: _roll(m) * reference_instance_boundaries(m.roll(1, -1)), "differs|expected"),
])
def test_boundary_checker_names_the_mistake(wrong, reason: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExerciseFailed, match=reason):
        check_instance_boundaries(wrong)


# -- pooling ------------------------------------------------------------------------------

def _pool_batch_mixed(features: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    out = torch.zeros_like(features)
    for i in ids.unique():
        mask = (ids == i)[:, None].expand_as(features)
        out[mask] = features[mask].view(-1).mean()
    return out


def _pool_loop(features: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    out = features.clone()
    for b in range(features.shape[0]):
        for i in ids[b].unique():
            mask = ids[b] == i
            out[b][:, mask] = features[b][:, mask].mean(1, keepdim=True)
    return out


def _pool_scatter(features: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    out = []
    for b in range(features.shape[0]):
        _, inv = torch.unique(ids[b].reshape(-1), return_inverse=True)
        k = int(inv.max()) + 1
        x = features[b].reshape(features.shape[1], -1)                  # (C, H*W)
        sums = x.new_zeros(x.shape[0], k).index_add(1, inv, x)
        counts = torch.bincount(inv, minlength=k).to(x.dtype)
        out.append((sums / counts)[:, inv].reshape(features[b].shape))
    return torch.stack(out)


def _pool_skip_zero(features: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    out = features.clone()
    for b in range(features.shape[0]):
        for i in ids[b].unique():
            if i == 0:                                  # "0 is background"
                continue
            mask = ids[b] == i
            out[b][:, mask] = features[b][:, mask].mean(1, keepdim=True)
    return out


def _pool_by_class(features: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    return _pool_loop(features, torch.where(ids >= 1000, ids // 1000, ids))


@pytest.mark.parametrize("fn", [_pool_loop, _pool_scatter, reference_instance_average_pool])
def test_pool_checker_accepts_correct_answers(fn) -> None:  # type: ignore[no-untyped-def]
    assert check_instance_average_pool(fn) is fn


@pytest.mark.parametrize("wrong, reason", [
    (_pool_skip_zero, "id 0 is an instance like any other"),
    (lambda f, m: _pool_skip_zero(f, m) * (m != 0)[:, None], "id 0 is an instance"),
    (_pool_by_class, "pool by instance id, not by class"),
    (_pool_batch_mixed, "hand-made example|pooled together"),
    (lambda f, m: _pool_loop(f, m).detach(), "no gradient"),
    (lambda f, m: f, "hand-made example"),
])
def test_pool_checker_names_the_mistake(wrong, reason: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExerciseFailed, match=reason):
        check_instance_average_pool(wrong)


def test_unfinished_exercises_fall_back(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("COURSE_STRICT_EXERCISES")

    def stub(*args):  # type: ignore[no-untyped-def]
        raise NotImplementedError()
    assert check_feature_matching_loss(stub) is reference_feature_matching_loss
    assert check_instance_boundaries(stub) is reference_instance_boundaries
    assert check_instance_average_pool(stub) is reference_instance_average_pool
    assert capsys.readouterr().out.count("[TODO]") == 3

"""The receptive-field recurrence on numbers, and the notebook-03 exercise checker."""
from __future__ import annotations

import pytest
from torch import nn

from course_lib.exercises.core import STRICT_ENV, ExerciseFailed
from course_lib.exercises.receptive import check_receptive_field
from course_lib.models import PatchDiscriminator, patch_receptive_field, receptive_field
from course_lib.models.receptive_field import field_of_layers


@pytest.mark.parametrize("n_layers", [1, 2, 3, 4, 5])
def test_field_of_layers_matches_the_patchgans(n_layers):
    layers = [(4, 2)] * n_layers + [(4, 1)] * 2
    assert field_of_layers(layers) == receptive_field(PatchDiscriminator(n_layers=n_layers))
    assert field_of_layers(layers).size == patch_receptive_field(n_layers)


def test_field_of_layers_dilation_and_modules_agree():
    layers = [(3, 1, 2), (3, 2), (5, 1, 3)]
    stack = nn.Sequential(nn.Conv2d(1, 1, 3, dilation=2), nn.ReLU(), nn.Conv2d(1, 1, 3, 2),
                          nn.Conv2d(1, 1, 5, dilation=3))
    assert field_of_layers(layers) == receptive_field(stack) == (1 + 4 + 2 + 24, 2)
    assert field_of_layers([]) == (1, 1)


@pytest.mark.parametrize("bad", [[(4,)], [(0, 1)], [(4, 2.0)], [(True, 1)], [(3, 1, 1, 1)]])
def test_field_of_layers_bad_layers(bad):
    with pytest.raises(ValueError, match="layer 0"):
        field_of_layers(bad)


def _right(layers):
    size, jump = 1, 1
    for kernel, stride in layers:
        size += (kernel - 1) * jump
        jump *= stride
    return size, jump


def _jump_first(layers):  # the classic mistake: multiply the jump before adding
    size, jump = 1, 1
    for kernel, stride in layers:
        jump *= stride
        size += (kernel - 1) * jump
    return size, jump


def test_checker_passes_fails_and_falls_back(monkeypatch, capsys):
    monkeypatch.delenv(STRICT_ENV, raising=False)
    assert check_receptive_field(_right) is _right
    assert "[PASS]" in capsys.readouterr().out
    fallback = check_receptive_field(_jump_first)
    out = capsys.readouterr().out
    assert "[FAIL]" in out and "BEFORE" in out
    assert fallback([(4, 2)] * 3 + [(4, 1)] * 2) == (70, 8)

    def todo(layers):
        raise NotImplementedError

    assert check_receptive_field(todo)([(3, 1)]) == (3, 1)
    assert "[TODO]" in capsys.readouterr().out
    monkeypatch.setenv(STRICT_ENV, "1")
    with pytest.raises(ExerciseFailed, match="receptive field"):
        check_receptive_field(todo)
    with pytest.raises(ExerciseFailed, match="should be 16"):
        check_receptive_field(_jump_first)

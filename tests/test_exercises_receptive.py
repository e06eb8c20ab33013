"""The receptive-field recurrence on numbers, and the notebook-03 exercise checker."""
from __future__ import annotations

import math

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


def _backward(layers):  # a correct answer in the other direction
    size = 1
    for kernel, stride in reversed(layers):
        size = (size - 1) * stride + kernel
    return size, math.prod(s for _, s in layers)


def _closed_form(layers):
    jumps = [math.prod(s for _, s in layers[:i]) for i in range(len(layers))]
    return 1 + sum((k - 1) * j for (k, _), j in zip(layers, jumps)), math.prod(
        s for _, s in layers)


@pytest.mark.parametrize("fn", [_right, _backward, _closed_form])
def test_checker_accepts_each_correct_style(fn, monkeypatch, capsys):
    monkeypatch.setenv(STRICT_ENV, "1")
    assert check_receptive_field(fn) is fn


def _no_jump(layers):
    return 1 + sum(k - 1 for k, _ in layers), math.prod(s for _, s in layers)


def _from_zero(layers):
    size, jump = _right(layers)
    return size - 1, jump


def _kernel_not_minus_one(layers):
    size, jump = 0, 1
    for kernel, stride in layers:
        size += kernel * jump
        jump *= stride
    return size, jump


def _reversed(layers):
    return _right(list(reversed(layers)))


def _backward_wrong(layers):
    size = 1
    for kernel, stride in reversed(layers):
        size = size * stride + kernel
    return size, math.prod(s for _, s in layers)


def _sum_strides(layers):
    return _right(layers)[0], (sum(s for _, s in layers) if layers else 1)


def _swapped(layers):
    size, jump = _right(layers)
    return jump, size


@pytest.mark.parametrize("wrong, hint", [
    (_jump_first, "BEFORE adding"),
    (_no_jump, "without multiplying it by the jump"),
    (_from_zero, "off by one"),
    (_kernel_not_minus_one, "not kernel * jump"),
    (_reversed, "from the last layer to the first"),
    (_backward_wrong, "(size - 1) * stride + kernel, not"),
    (_sum_strides, "PRODUCT"),
    (_swapped, "(stride, size)"),
])
def test_checker_names_each_typical_mistake(wrong, hint, monkeypatch, capsys):
    monkeypatch.delenv(STRICT_ENV, raising=False)
    check_receptive_field(wrong)
    out = capsys.readouterr().out
    assert "[FAIL]" in out and hint in out, out

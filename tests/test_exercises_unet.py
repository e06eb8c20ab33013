"""The notebook-02 checker: a learner's U-Net level forward pass."""
from __future__ import annotations

import pytest
import torch

from course_lib.exercises.core import STRICT_ENV, ExerciseFailed
from course_lib.exercises.unet import check_unet_block
from course_lib.models.unet import UNetBlock


@pytest.fixture(autouse=True)
def _not_strict(monkeypatch):
    monkeypatch.delenv(STRICT_ENV, raising=False)


def _block(cat_order="xy", always_cat=False, skip_inner=False):
    class Block(UNetBlock):
        def forward(self, x):
            y = self.down(x)
            if self.inner is not None and not skip_inner:
                y = self.inner(y)
            y = self.up(y)
            if (self.skip or always_cat) and not self.outermost:
                return torch.cat([x, y] if cat_order == "xy" else [y, x], dim=1)
            return y
    return Block


def test_a_correct_block_passes(capsys):
    block = _block()
    assert check_unet_block(block) is block
    assert "[PASS]" in capsys.readouterr().out


@pytest.mark.parametrize("kwargs, message", [
    ({"cat_order": "yx"}, "torch.cat([x, y], dim=1)"),
    ({"always_cat": True}, "only when self.skip"),
    ({"skip_inner": True}, "your code raised"),
])
def test_mistakes_are_named(kwargs, message, capsys):
    assert check_unet_block(_block(**kwargs)) is UNetBlock
    out = capsys.readouterr().out
    assert "[FAIL]" in out and message in out


def test_stub_and_strict(monkeypatch, capsys):
    class Todo(UNetBlock):
        def forward(self, x):
            raise NotImplementedError

    assert check_unet_block(Todo) is UNetBlock
    assert "[TODO]" in capsys.readouterr().out
    monkeypatch.setenv(STRICT_ENV, "1")
    with pytest.raises(ExerciseFailed, match="U-Net block"):
        check_unet_block(Todo)

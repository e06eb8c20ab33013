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


def _block(cat_order="xy", always_cat=False, skip_inner=False, detach=None, add=False,
           inner_always=False, inner_twice=False, cat_dim=1, no_grad_skip=False):
    class Block(UNetBlock):
        def forward(self, x):
            y = self.down(x)
            if (self.inner is not None or inner_always) and not skip_inner:
                y = self.inner(y)
                if inner_twice:
                    y = self.inner(y[:, :y.shape[1] // 2])
            y = self.up(y)
            if (self.skip or always_cat) and not self.outermost:
                xs = x.detach() if detach == "x" else x
                xs = xs.data if no_grad_skip else xs
                ys = y.detach() if detach == "y" else y
                if add:
                    return xs + ys
                return torch.cat([xs, ys] if cat_order == "xy" else [ys, xs], dim=cat_dim)
            return y
    return Block


class _Explicit(UNetBlock):
    """A correct answer in another style: explicit branches, the skip named."""

    def forward(self, x):
        features = self.down(x)
        deeper = features if self.inner is None else self.inner(features)
        up = self.up(deeper)
        if self.outermost or not self.skip:
            return up
        skip_connection = x
        return torch.cat((skip_connection, up), 1)


CORRECT = {"reference style": _block(), "explicit branches": _Explicit}


@pytest.mark.parametrize("style", list(CORRECT))
def test_a_correct_block_passes(style, capsys):
    block = CORRECT[style]
    assert check_unet_block(block) is block
    assert "[PASS]" in capsys.readouterr().out


WRONG = {
    "(output, input) order": ({"cat_order": "yx"}, "torch.cat([x, y], dim=1)"),
    "concatenates without self.skip": ({"always_cat": True}, "only when self.skip"),
    "inner never called": ({"skip_inner": True}, "self.inner (the deeper levels) is never called"),
    "inner called when None": ({"inner_always": True}, "self.inner is None"),
    "detached skip, x.detach()": ({"detach": "x"}, "gradients differ"),
    "skip through .data": ({"no_grad_skip": True}, "gradients differ"),
    "x + y instead of cat": ({"add": True}, "concatenated"),
    "cat along the batch": ({"cat_dim": 0}, "concatenated"),
}


@pytest.mark.parametrize("mistake", list(WRONG))
def test_mistakes_are_named(mistake, capsys):
    kwargs, message = WRONG[mistake]
    assert check_unet_block(_block(**kwargs)) is UNetBlock
    out = capsys.readouterr().out
    assert "[FAIL]" in out and message in out, out


def test_stub_and_strict(monkeypatch, capsys):
    class Todo(UNetBlock):
        def forward(self, x):
            raise NotImplementedError

    assert check_unet_block(Todo) is UNetBlock
    assert "[TODO]" in capsys.readouterr().out
    monkeypatch.setenv(STRICT_ENV, "1")
    with pytest.raises(ExerciseFailed, match="U-Net block"):
        check_unet_block(Todo)

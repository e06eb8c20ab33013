"""The notebook-00 jitter checker judges right: each correct style passes, each typical wrong
answer fails with a message that names it."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from course_lib.data.jitter import paired_jitter, resize
from course_lib.exercises import check_paired_jitter
from course_lib.exercises.core import STRICT_ENV


@pytest.fixture(autouse=True)
def _not_strict(monkeypatch):
    monkeypatch.delenv(STRICT_ENV, raising=False)


def _interp(mode, **kw):
    def fn(x, size):
        return F.interpolate(x[None], size=(size, size), mode=mode, **kw)[0]
    return fn


def _variant(resizer=resize, hi_extra=1, same_corner=False, p_flip=0.5, flip_dim=-1,
             independent=False, flip_independent=False, global_rng=False, order="resize-crop",
             flip_first=False):
    def step(a, b, load_size, crop_size, generator=None):
        gen = None if global_rng else generator
        hi = load_size - crop_size + hi_extra

        def draw():
            if flip_first:
                f = bool(torch.rand(1, generator=gen) < p_flip)
            t = int(torch.randint(0, hi, (1,), generator=gen))
            l_ = t if same_corner else int(torch.randint(0, hi, (1,), generator=gen))
            if not flip_first:
                f = bool(torch.rand(1, generator=gen) < p_flip)
            return t, l_, f

        ta, la, fa = draw()
        tb, lb, fb = draw() if independent else (ta, la, fa)
        if flip_independent:
            fb = bool(torch.rand(1, generator=gen) < 0.5)
        out = []
        for x, (t, l_, f) in ((a, (ta, la, fa)), (b, (tb, lb, fb))):
            if order == "resize-crop":
                x = resizer(x, load_size)[..., t:t + crop_size, l_:l_ + crop_size]
            else:                                    # crop a window first, then resize it
                x = resizer(x[..., :8, :8], crop_size)
            out.append(x.flip(flip_dim) if f else x)
        return tuple(out)
    return step


def _torchvision(a, b, load_size, crop_size, generator=None):
    import torchvision.transforms.functional as TF

    a, b = TF.resize(a, [load_size, load_size]), TF.resize(b, [load_size, load_size])
    i = int(torch.randint(0, load_size - crop_size + 1, (1,), generator=generator))
    j = int(torch.randint(0, load_size - crop_size + 1, (1,), generator=generator))
    a, b = TF.crop(a, i, j, crop_size, crop_size), TF.crop(b, i, j, crop_size, crop_size)
    if torch.rand(1, generator=generator) < 0.5:
        a, b = TF.hflip(a), TF.hflip(b)
    return a, b


CORRECT = {
    "torchvision resize / crop / hflip": _torchvision,
    "reference (course_lib)": paired_jitter,
    "notebook style, course resize": _variant(),
    "flip drawn first": _variant(flip_first=True),
    "F.interpolate bilinear": _variant(resizer=_interp("bilinear", align_corners=False)),
    "F.interpolate bicubic align_corners": _variant(resizer=_interp("bicubic",
                                                                    align_corners=True)),
    "F.interpolate nearest": _variant(resizer=_interp("nearest")),
    "flip along dims=[2]": _variant(flip_dim=2),
}


@pytest.mark.parametrize("style", list(CORRECT))
def test_accepts_correct_styles(style, capsys):
    fn = CORRECT[style]
    assert check_paired_jitter(fn) is fn
    assert "[PASS]" in capsys.readouterr().out


WRONG = {
    "offset range misses its last position": (_variant(hi_extra=0), "largest valid value"),
    "top == left": (_variant(same_corner=True), "always equal"),
    "flip probability 0.05": (_variant(p_flip=0.05), "mirrored in"),
    "flip probability 0.1": (_variant(p_flip=0.1), "mirrored in"),
    "flip probability 0.9": (_variant(p_flip=0.9), "mirrored in"),
    "never flips": (_variant(p_flip=0.0), "never mirrored"),
    "vertical flip": (_variant(flip_dim=-2), "upside down"),
    "independent crops": (_variant(independent=True), "different crops"),
    "independent flips": (_variant(flip_independent=True), "not mirrored together"),
    "global random state": (_variant(global_rng=True), "`generator` argument"),
    "crop, then resize": (_variant(order="crop-resize"), "resize first"),
}


@pytest.mark.parametrize("mistake", list(WRONG))
def test_names_each_mistake(mistake, capsys):
    fn, message = WRONG[mistake]
    assert check_paired_jitter(fn) is paired_jitter
    out = capsys.readouterr().out
    assert "[FAIL]" in out and message in out, out

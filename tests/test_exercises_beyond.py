"""The checker of notebook 07's exercise (joining a pair into one AB image): correct answers in
several styles pass, each typical wrong answer is caught with a message naming the mistake."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PIL import Image

from course_lib.data.export import ab_image as reference_ab_image
from course_lib.exercises import ExerciseFailed, check_ab_image


@pytest.fixture(autouse=True)
def strict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSE_STRICT_EXERCISES", "1")


def _paste(a: Any, b: Any, width: int, height: int) -> Any:
    out = Image.new("RGB", (2 * width, height))
    out.paste(a.convert("RGB"), (0, 0))
    out.paste(b.convert("RGB"), (width, 0))
    return out


def notebook_style(a: Any, b: Any) -> Any:
    if a.size != b.size:
        raise ValueError(f"the sides differ: {a.size} and {b.size}")
    return _paste(a, b, *a.size)


def numpy_style(a: Any, b: Any) -> Any:
    x, y = np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB"))
    if x.shape != y.shape:
        raise ValueError(f"sizes differ: {x.shape[1]}x{x.shape[0]} vs {y.shape[1]}x{y.shape[0]}")
    return Image.fromarray(np.concatenate([x, y], axis=1))


def squares_only(a: Any, b: Any) -> Any:
    if a.size != b.size:
        raise ValueError(f"{a.width}x{a.height} != {b.width}x{b.height}")
    if a.width != a.height:
        raise ValueError("AB files hold squares")
    return _paste(a, b, a.width, a.height)


@pytest.mark.parametrize("fn", [notebook_style, numpy_style, squares_only, reference_ab_image])
def test_correct_styles_pass(fn, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    assert check_ab_image(fn) is fn
    assert "[PASS] AB image" in capsys.readouterr().out


def swapped_size(a: Any, b: Any) -> Any:            # PIL's (w, h) read as (h, w)
    if a.size != b.size:
        raise ValueError(f"{a.size} vs {b.size}")
    h, w = a.size
    return _paste(a, b, w, h)


def height_only(a: Any, b: Any) -> Any:
    if a.height != b.height:
        raise ValueError(f"heights {a.height} and {b.height} differ ({a.size}, {b.size})")
    return _paste(a, b, a.width, a.height)


def width_only(a: Any, b: Any) -> Any:
    if a.width != b.width:
        raise ValueError(f"widths {a.width} and {b.width} differ ({a.size}, {b.size})")
    return _paste(a, b, a.width, a.height)


def resizes(a: Any, b: Any) -> Any:
    return _paste(a, b.resize(a.size), *a.size)


def vertical(a: Any, b: Any) -> Any:
    if a.size != b.size:
        raise ValueError(f"{a.size} vs {b.size}")
    return Image.fromarray(np.concatenate([np.asarray(a.convert("RGB")),
                                           np.asarray(b.convert("RGB"))], axis=0))


def no_rgb(a: Any, b: Any) -> Any:
    if a.size != b.size:
        raise ValueError(f"{a.size} vs {b.size}")
    out = Image.new(a.mode, (2 * a.width, a.height))
    out.paste(a, (0, 0))
    out.paste(b.convert(a.mode), (a.width, 0))
    return out


def b_left(a: Any, b: Any) -> Any:
    return notebook_style(b, a)


def vague_error(a: Any, b: Any) -> Any:
    if a.size != b.size:
        raise ValueError("the sides differ")
    return _paste(a, b, *a.size)


def crashes(a: Any, b: Any) -> Any:
    if a.size != b.size:
        raise TypeError("sizes differ")
    return _paste(a, b, *a.size)


@pytest.mark.parametrize("wrong, reason", [
    (swapped_size, r"image\.size is \(width, height\), and you read it as \(height, width\)"),
    (height_only, r"10x12 \(width x height: same height, different width\) must raise a "
                  r"ValueError, but your function returned 24x12"),
    (width_only, r"12x10 \(width x height: same width, different height\) must raise a "
                 r"ValueError, but your function returned 24x12"),
    (resizes, r"12x12 and 10x10 \(width x height\) must raise a ValueError, but your function "
              r"returned 24x12.*instead of resizing"),
    (vertical, "stacked vertically"),
    (no_rgb, "grayscale side should become 3 equal channels"),
    (b_left, "left half should be exactly `a`"),
    (vague_error, "should name both sizes"),
    (crashes, "your code raised TypeError"),
])
def test_wrong_answers_are_named(wrong, reason: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExerciseFailed, match=reason):
        check_ab_image(wrong)


def test_did_not_raise_is_not_reported_as_a_crash(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("COURSE_STRICT_EXERCISES")
    assert check_ab_image(resizes) is reference_ab_image
    out = capsys.readouterr().out
    assert "[FAIL] AB image: sides of 12x12 and 10x10" in out
    assert "raised AssertionError" not in out and "your code raised" not in out


def test_unfinished_exercise_falls_back(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("COURSE_STRICT_EXERCISES")

    def stub(a: Any, b: Any) -> Any:
        raise NotImplementedError()
    assert check_ab_image(stub) is reference_ab_image
    assert "[TODO] AB image" in capsys.readouterr().out

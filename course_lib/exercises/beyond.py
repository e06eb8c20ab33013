"""Checker for notebook 07 (your own data): joining a pair into one pix2pix "AB" image."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from course_lib.data.export import ab_image as reference_ab_image
from course_lib.exercises.core import expect, expect_raises, run_check

__all__ = ["check_ab_image"]

ABImage = Callable[[Any, Any], Any]


def _size(img: Any) -> str:
    w, h = img.size
    return f"{w}x{h}"


def _check(fn: ABImage) -> str:
    from PIL import Image

    rng = np.random.default_rng(0)

    def rgb(width: int, height: int) -> Any:   # PIL sizes are (width, height); numpy (h, w)
        return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))

    a, b = rgb(12, 12), rgb(12, 12)
    out = fn(a, b)
    expect(hasattr(out, "size") and hasattr(out, "mode"),
           f"return a PIL image, got {type(out).__name__}")
    if out.size == (12, 24):
        expect(False, "two 12x12 sides gave a 12x24 (width x height) image: the sides are "
               "stacked vertically; put b to the RIGHT of a (an AB image is twice as wide)")
    expect(out.size == (24, 12), f"two 12x12 sides should give a 24x12 (width x height) image, "
           f"got {_size(out)}")
    expect(out.mode == "RGB", f"the AB image should be RGB, got mode {out.mode!r}")
    arr = np.asarray(out)
    expect(np.array_equal(arr[:, :12], np.asarray(a)), "the left half should be exactly `a`")
    expect(np.array_equal(arr[:, 12:], np.asarray(b)), "the right half should be exactly `b`")
    gray = Image.fromarray(rng.integers(0, 256, (12, 12), dtype=np.uint8))   # mode L
    mixed = np.asarray(fn(gray, b))
    expect(mixed.shape == (12, 24, 3) and np.array_equal(mixed[:, :12, 1], np.asarray(gray)),
           "a grayscale side should become 3 equal channels (convert each side to RGB)")

    # Non-square sides (12 wide, 8 high): joined as 24x8, or refused with a ValueError (the AB
    # loader of this course needs squares, and course_lib's own ab_image refuses them).
    wide_a, wide_b = rgb(12, 8), rgb(12, 8)
    try:
        wide = fn(wide_a, wide_b)
    except ValueError:
        wide = None
    if wide is not None:
        if tuple(wide.size) == (16, 12):
            expect(False, "for two 12x8 sides (width x height) you made a 16x12 image: PIL's "
                   "image.size is (width, height), and you read it as (height, width)")
        expect(tuple(wide.size) == (24, 8), f"two 12x8 sides (width x height) should give a "
               f"24x8 image, got {_size(wide)}")
        arr = np.asarray(wide)
        expect(np.array_equal(arr[:, :12], np.asarray(wide_a))
               and np.array_equal(arr[:, 12:], np.asarray(wide_b)),
               "with two 12x8 sides (width x height) the halves are not a and b: paste b at "
               "x = a's width (image.size is (width, height))")

    # Sides of different sizes must be refused, never joined or resized.
    def refused(x: Any, y: Any, how: str) -> BaseException:
        return expect_raises(
            lambda: fn(x, y), ValueError,
            lambda got: f"sides of {_size(x)} and {_size(y)} (width x height{how}) must raise a "
            f"ValueError, but your function returned "
            f"{_size(got) if hasattr(got, 'size') else type(got).__name__}: a pair has to be "
            f"pixel-aligned, so refuse it instead of resizing, and compare the whole size "
            f"(a.size != b.size), both width and height")

    err = refused(a, rgb(10, 10), "")
    expect("12" in str(err) and "10" in str(err),
           f"the error for sides of different sizes should name both sizes; it says: {err}")
    refused(a, rgb(10, 12), ": same height, different width")
    refused(a, rgb(12, 10), ": same width, different height")
    return ("A on the left, B on the right, RGB, (width, height) read right, mismatched sizes "
            "refused")


def check_ab_image(fn: ABImage) -> ABImage:
    """Check ``fn(a, b) -> PIL image`` (two same-size images side by side)."""
    return run_check("AB image", fn, reference_ab_image, _check)

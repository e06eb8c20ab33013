"""Checker for notebook 07 (your own data): joining a pair into one pix2pix "AB" image."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from course_lib.data.export import ab_image as reference_ab_image
from course_lib.exercises.core import expect, run_check

__all__ = ["check_ab_image"]

ABImage = Callable[[Any, Any], Any]


def _check(fn: ABImage) -> str:
    from PIL import Image

    rng = np.random.default_rng(0)
    a = Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8))
    b = Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8))
    out = fn(a, b)
    expect(hasattr(out, "size") and hasattr(out, "mode"),
           f"return a PIL image, got {type(out).__name__}")
    expect(out.size == (24, 12), f"two 12x12 sides should give a 24x12 (width x height) image, "
           f"got {out.size[0]}x{out.size[1]}")
    expect(out.mode == "RGB", f"the AB image should be RGB, got mode {out.mode!r}")
    arr = np.asarray(out)
    expect(np.array_equal(arr[:, :12], np.asarray(a)), "the left half should be exactly `a`")
    expect(np.array_equal(arr[:, 12:], np.asarray(b)), "the right half should be exactly `b`")
    gray = Image.fromarray(rng.integers(0, 256, (12, 12), dtype=np.uint8))   # mode L
    mixed = np.asarray(fn(gray, b))
    expect(mixed.shape == (12, 24, 3) and np.array_equal(mixed[:, :12, 1], np.asarray(gray)),
           "a grayscale side should become 3 equal channels (convert each side to RGB)")
    small = Image.fromarray(rng.integers(0, 256, (10, 10, 3), dtype=np.uint8))
    try:
        fn(a, small)
    except ValueError as err:
        expect("12" in str(err) and "10" in str(err),
               f"the error for sides of different sizes should name both sizes; it says: {err}")
    else:
        raise AssertionError("sides of different sizes (12x12 and 10x10) must raise a ValueError: "
                             "a pair has to be pixel-aligned")
    return "A on the left, B on the right, RGB, mismatched sizes refused"


def check_ab_image(fn: ABImage) -> ABImage:
    """Check ``fn(a, b) -> PIL image`` (two same-size squares side by side)."""
    return run_check("AB image", fn, reference_ab_image, _check)

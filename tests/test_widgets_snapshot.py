"""Widgets leave a static picture behind, and the finished progress bar is plain tqdm outside
a notebook."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from course_lib.progress import IN_NOTEBOOK, tqdm  # noqa: E402
from course_lib.widgets.snapshot import show_snapshot  # noqa: E402


def test_snapshot_is_a_png_and_closes_the_figure():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    png = show_snapshot(fig)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(fig.number)      # the inline backend will not draw it again


def test_progress_outside_a_notebook_is_plain_tqdm():
    assert not IN_NOTEBOOK
    assert sum(tqdm(range(4), disable=True)) == 6
    bar = tqdm(total=2, disable=True)
    bar.update(2)
    bar.close()

"""Widgets leave a static picture behind, and the finished progress bar is plain tqdm outside
a notebook."""
from __future__ import annotations

import matplotlib
import matplotlib.figure

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


class _Tool:
    def figure(self):
        fig, ax = plt.subplots()
        ax.plot([0, 1])
        return fig

    def widget(self):
        return "the widget"


def test_present_outside_and_inside_ipython(monkeypatch):
    from course_lib.widgets import snapshot

    tool = _Tool()
    assert snapshot.present(tool, interactive=True) == "the widget"
    assert isinstance(snapshot.present(tool, interactive=False), matplotlib.figure.Figure)
    plt.close("all")
    shown = []
    monkeypatch.setattr(snapshot, "_in_ipython", lambda: True)
    import IPython.display
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    out = snapshot.present(tool, interactive=False)
    assert len(shown) == 1 and out.figure is shown[0]
    assert not plt.get_fignums()                     # closed: the inline backend skips it
    assert out._ipython_display_() is None           # the cell's value draws nothing more
    shown.clear()
    out = snapshot.present(tool, interactive=True)
    assert shown == ["the widget"] and out.widget == "the widget"

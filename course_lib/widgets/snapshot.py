"""A static picture next to a live widget, so that a saved notebook still shows the result.

A widget lives in the kernel: save the notebook, reopen it, and JupyterLab can only say
"Error displaying widget: model not found". The tools of this package therefore show, above
the live widget, a PNG of the same content (their static figure), which is stored in the
notebook like any image.
"""
from __future__ import annotations

import io
from typing import Any

__all__ = ["Shown", "present", "show_snapshot"]


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


def show_snapshot(fig: Any, note: str = "snapshot (saved with the notebook); the live version "
                                        "is below") -> bytes:
    """Display the matplotlib ``fig`` once as a PNG image (in IPython), close it, return the PNG.

    Closing the figure keeps the inline backend from drawing it a second time.
    """
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    png = buf.getvalue()
    try:
        from IPython import get_ipython
        from IPython.display import Image, display
    except ImportError:
        return png
    if get_ipython() is not None:
        print(note)
        display(Image(png))
    return png


class Shown:
    """What a tool returns in IPython once it has displayed itself: nothing more is drawn.

    ``.tool`` is the explorer or editor (``render``, ``figure`` ...), ``.widget`` the live
    widget (interactive mode) and ``.figure`` the static figure (static mode).
    """

    def __init__(self, tool: Any, widget: Any = None, figure: Any = None) -> None:
        self.tool, self.widget, self.figure = tool, widget, figure

    def _ipython_display_(self) -> None:
        """Already on screen: a cell ending with the call, with or without ``;``, shows it once."""

    def __repr__(self) -> str:
        return f"<{type(self.tool).__name__} (shown above)>"


def present(tool: Any, interactive: bool) -> Any:
    """Show ``tool`` exactly once and return it.

    Outside IPython (scripts, tests): return ``tool.widget()`` or ``tool.figure()``. In IPython:
    display a PNG snapshot and the live widget (interactive) or the static figure, closed so that
    the inline backend does not draw it again, and return a :class:`Shown`, which displays
    nothing, so the cell looks the same with or without a trailing ``;``.
    """
    if not _in_ipython():
        return tool.widget() if interactive else tool.figure()
    import matplotlib.pyplot as plt
    from IPython.display import display

    if interactive:
        show_snapshot(tool.figure())
        widget = tool.widget()
        display(widget)
        return Shown(tool, widget=widget)
    fig = tool.figure()
    display(fig)
    plt.close(fig)
    return Shown(tool, figure=fig)

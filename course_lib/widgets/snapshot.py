"""A static picture next to a live widget, so that a saved notebook still shows the result.

A widget lives in the kernel: save the notebook, reopen it, and JupyterLab can only say
"Error displaying widget: model not found". The tools of this package therefore show, above
the live widget, a PNG of the same content (their static figure), which is stored in the
notebook like any image.
"""
from __future__ import annotations

import io
from typing import Any

__all__ = ["show_snapshot"]


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

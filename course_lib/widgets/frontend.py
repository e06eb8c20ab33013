"""Where the widgets are shown: JupyterLab / Jupyter Notebook, or Google Colab.

The course's widgets (:mod:`course_lib.widgets.latent`, :mod:`course_lib.widgets.instance_editor`)
and its ``tqdm.auto`` progress bars are ipywidgets, and work with ipywidgets 7.x and 8.x alike.
JupyterLab shows both versions by itself. Colab shows ipywidgets 7 (long its preinstalled
version) by itself too, but ipywidgets 8 only after Colab's *custom widget manager* is turned on
(``google.colab.output.enable_custom_widget_manager()``); without it a widget appears as an
empty output or as its text ``VBox(children=...)``. :func:`enable_colab_widgets` turns it on
exactly then: on Colab, with ipywidgets 8 or later, once per kernel. The set-up cell of every
notebook calls it, and so does each widget before it is built.

This module imports nothing heavy, so the set-up cell can call it before torch is loaded.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys

__all__ = ["on_colab", "ipywidgets_major", "needs_colab_widget_manager", "enable_colab_widgets"]

_enabled = False


def on_colab() -> bool:
    """True inside a Google Colab kernel (``google.colab`` loaded, or Colab's
    ``COLAB_RELEASE_TAG`` in the environment)."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def ipywidgets_major() -> int | None:
    """The major version of the installed ipywidgets (7, 8, ...), or ``None`` without it."""
    if importlib.util.find_spec("ipywidgets") is None:
        return None
    version = str(getattr(importlib.import_module("ipywidgets"), "__version__", "0"))
    try:
        return int(version.split(".")[0])
    except ValueError:
        return None


def needs_colab_widget_manager() -> bool:
    """Whether widgets need Colab's custom widget manager here: on Colab with ipywidgets 8+."""
    major = ipywidgets_major()
    return on_colab() and major is not None and major >= 8


def enable_colab_widgets() -> bool:
    """Turn on Colab's custom widget manager when :func:`needs_colab_widget_manager`, once.

    Returns True if it is on (turned on now or earlier). Elsewhere, or with ipywidgets 7 on
    Colab, it does nothing and returns False. A Colab-like environment without the
    ``google.colab`` package (a simulation) gets a one-line warning instead of an error.
    """
    global _enabled
    if _enabled:
        return True
    if not needs_colab_widget_manager():
        return False
    try:
        from google.colab import output  # type: ignore[import-not-found]
    except ImportError:
        print("note: COLAB_RELEASE_TAG is set but google.colab cannot be imported; widgets "
              "may not display (outside Colab, unset COLAB_RELEASE_TAG)", file=sys.stderr)
        return False
    output.enable_custom_widget_manager()
    _enabled = True
    return True

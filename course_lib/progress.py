"""Progress bars that survive saving and reopening a notebook.

``tqdm.auto`` draws a live ipywidget in Jupyter. A widget's output lives in the kernel: save the
notebook, reopen it, and every bar reads "Error displaying widget: model not found". The course's
:class:`tqdm` is ``tqdm.auto.tqdm`` with one change in a notebook: once the bar is closed (the
loop finished or stopped), its widget output is *replaced* by the bar's final line as plain text
(``training: 100%|##########| 1000/1000 [00:30<00:00, 33.0it/s]``), which is saved with the
notebook and shows after reopening. Bars made with ``leave=False`` leave nothing behind, as in
tqdm. Outside a notebook it is plain ``tqdm.auto.tqdm``.
"""
from __future__ import annotations

from typing import Any

from tqdm.auto import tqdm as _auto_tqdm

__all__ = ["tqdm", "IN_NOTEBOOK"]

try:
    from tqdm.notebook import tqdm as _notebook_tqdm
    IN_NOTEBOOK = issubclass(_auto_tqdm, _notebook_tqdm)   # tqdm.auto chose the widget bar
except ImportError:  # pragma: no cover - tqdm always ships tqdm.notebook
    IN_NOTEBOOK = False


class tqdm(_auto_tqdm):  # type: ignore[misc, valid-type]  # noqa: N801 - tqdm's own name
    """``tqdm.auto.tqdm``; in a notebook the finished bar becomes a line of text."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._handle: Any = None
        if not IN_NOTEBOOK:
            super().__init__(*args, **kwargs)
            return
        display_here = kwargs.pop("display", True)
        super().__init__(*args, display=False, **kwargs)
        if display_here and not self.disable and getattr(self, "container", None) is not None:
            from IPython.display import display
            self._handle = display(self.container, display_id=True)
            self.displayed = True

    def close(self) -> None:
        handle, self._handle = getattr(self, "_handle", None), None
        was_disabled = self.disable                      # tqdm's close() sets disable = True
        super().close()
        if handle is None or was_disabled:
            return
        finished = not (self.total and self.n < self.total)
        if finished and not self.leave:
            text = ""
        else:
            text = self.format_meter(**{**self.format_dict, "ncols": 100})
            if not finished:
                text += "  (stopped)"
        handle.update({"text/plain": text}, raw=True)

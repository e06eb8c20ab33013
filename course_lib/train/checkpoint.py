"""Checkpoints that survive interruptions and rebuild their models.

A training run that is interrupted (a closed laptop, a Colab time-out) must resume from its
last checkpoint. Three details make that reliable:

* **Atomic writes.** A checkpoint is written to a temporary file in the same folder and then
  renamed over the old one, so a crash mid-write never leaves a truncated ``last.pt``.
* **Plain state dicts.** ``DistributedDataParallel`` prefixes parameter names with
  ``module.`` and ``torch.compile`` with ``_orig_mod.``; saved names are stripped of both, and
  loading accepts the prefixed forms too.
* **Config beside the weights.** Each model's constructor arguments are saved with it, so a
  checkpoint alone rebuilds its model.
* **No code in a checkpoint.** Checkpoints are read with ``torch.load(weights_only=True)``:
  only tensors and plain values (numbers, strings, booleans, ``None``, lists, tuples, dicts)
  come back, so a file that someone crafted to run code when unpickled is refused, naming the
  file, and nothing in it is executed. Whatever the course saves is therefore plain: RNG states
  are tensors, results are dicts (:func:`check_plain` says what does not fit, before saving).
* **One writer's leftovers.** A writer killed during a save leaves its temporary file
  (``last.pt.<random>.tmp``); :func:`remove_stale_temporaries` deletes exactly those on the
  next start.
"""
from __future__ import annotations

import os
import pickle
from collections import OrderedDict
import re
import tempfile
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

__all__ = ["CheckpointError", "clean_state_dict", "unwrap", "save_checkpoint", "load_checkpoint",
           "check_plain", "remove_stale_temporaries"]

_PREFIXES = ("module.", "_orig_mod.")
_PLAIN = (bool, int, float, str, bytes, type(None), torch.dtype, torch.device, torch.Size)


class CheckpointError(ValueError, RuntimeError):
    """A checkpoint that cannot be used (unreadable, or holding more than tensors and plain
    values); the one-line message names the file and says what to do."""


def unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside DDP and/or ``torch.compile`` wrappers."""
    while True:
        if hasattr(model, "_orig_mod"):
            model = model._orig_mod  # type: ignore[assignment]
        elif isinstance(model, nn.parallel.DistributedDataParallel) or (
                hasattr(model, "module") and isinstance(model.module, nn.Module)
                and type(model).__name__ in ("DataParallel", "DistributedDataParallel")):
            model = model.module  # type: ignore[assignment]
        else:
            return model


def clean_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Strip ``module.`` and ``_orig_mod.`` prefixes (in any order, any number) from keys."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        changed = True
        while changed:
            changed = False
            for p in _PREFIXES:
                if key.startswith(p):
                    key, changed = key[len(p):], True
            key = key.replace("._orig_mod.", ".")
        out[key] = value
    return out


def check_plain(value: Any, where: str = "state") -> None:
    """Raise ``TypeError`` naming the first entry of ``value`` that ``weights_only`` loading
    would refuse (anything but tensors, numbers, strings, ``None`` and lists/tuples/dicts)."""
    if type(value) in _PLAIN or isinstance(value, torch.Tensor):  # exact types: a str or int
        return                                                    # subclass is not plain
    if type(value) in (dict, OrderedDict):
        for k, v in value.items():
            check_plain(k, f"{where} key")
            check_plain(v, f"{where}[{k!r}]")
        return
    if type(value) in (list, tuple):
        for i, v in enumerate(value):
            check_plain(v, f"{where}[{i}]")
        return
    raise TypeError(f"{where} is a {type(value).__module__}.{type(value).__qualname__}: a "
                    "checkpoint holds only tensors and plain values (store it as a dict)")


def save_checkpoint(path: str | os.PathLike[str], state: Mapping[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically (temporary file, fsync, rename).

    ``state`` must be plain (see :func:`check_plain`), so that :func:`load_checkpoint` can read
    it back without running code."""
    path = Path(path)
    check_plain(dict(state), path.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(dict(state), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def remove_stale_temporaries(path: str | os.PathLike[str], prefix: str | None = None,
                             suffix: str = ".tmp") -> list[Path]:
    """Delete the temporary files a killed writer of ``path`` left behind; return them.

    Only names of :func:`save_checkpoint`'s own pattern (``tempfile.mkstemp``'s 8 random
    characters between ``<name>.`` and ``.tmp``, beside ``path``; ``prefix``/``suffix`` for
    other writers' patterns) are touched. Call it while holding the run folder (one writer)."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    head = path.name + "." if prefix is None else prefix
    pattern = re.compile(re.escape(head) + r"[a-z0-9_]{8}" + re.escape(suffix))
    removed = []
    for candidate in path.parent.iterdir():
        if pattern.fullmatch(candidate.name) and candidate.is_file():
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return sorted(removed)


def _first_line(text: str, limit: int = 120) -> str:
    """The first sentence of an error message (torch's run to several paragraphs)."""
    line = next((ln.strip() for ln in str(text).splitlines() if ln.strip()), "")
    line = line.split(". ", 1)[0].rstrip(".")
    return line if len(line) <= limit else line[:limit - 3] + "..."


def load_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
                    ) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` with ``weights_only=True``.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: the file is truncated or not a checkpoint, or it holds objects other
            than tensors and plain values (it is refused and nothing in it is executed).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: train first, or pass the run folder's "
                                "'last.pt'")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"GLOBAL ([\w.]+)", str(err))
        if found:
            raise CheckpointError(
                f"refusing to load {path}: it holds a Python object ({found.group(1)}), not only "
                "tensors and plain values, and unpickling it could run code from the file; it was "
                "not executed. Use a checkpoint written by course_lib, from a source you trust"
            ) from None
        raise CheckpointError(f"{path} is not a readable checkpoint (corrupt or not a PyTorch "
                              "file); delete it to start the run afresh") from None
    except Exception as err:  # truncated, empty or foreign file
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({type(err).__name__}: "
            f"{_first_line(err) or 'empty file'}); it is truncated or not a checkpoint: delete "
            "it to start the run afresh") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds a {type(state).__name__}, not a checkpoint "
                              "dictionary")
    return state

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
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

__all__ = ["clean_state_dict", "unwrap", "save_checkpoint", "load_checkpoint"]

_PREFIXES = ("module.", "_orig_mod.")


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


def save_checkpoint(path: str | os.PathLike[str], state: Mapping[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically (temporary file, fsync, rename)."""
    path = Path(path)
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


def load_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
                    ) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint`, with a clear error if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: train first, or pass the run folder's "
                                "'last.pt'")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:  # truncated or foreign file
        raise RuntimeError(f"{path} is not a readable checkpoint ({type(err).__name__}: {err}); "
                           "delete it to start the run afresh") from err
    if not isinstance(state, dict):
        raise RuntimeError(f"{path} holds a {type(state).__name__}, not a checkpoint dictionary")
    return state

"""A training run on disk: one folder that holds everything needed to resume, read or reuse it.

The command line (``python -m course_lib train ...``) writes one folder per run::

    runs/facades_pix2pix/
      config.json        what was run: model, data, hyper-parameters, sizes, software versions
      last.pt            the checkpoint: weights (plain state dicts + constructor arguments),
                         optimizers, schedulers, step, history, RNG (course_lib.train.checkpoint)
      history.csv        the logged losses, one row per logged step (also history.json)
      samples/           step_000500.png ...: input / target / output of fixed validation pairs
      metrics.json       the final evaluation (written at the end, and by `evaluate`)
      run.lock           only while a trainer writes the folder: its PID and host (RunLock)

Files are replaced atomically (write a temporary file in the folder, then rename it), so an
interrupted run never leaves a truncated ``config.json`` or ``metrics.json`` behind, as
:func:`~course_lib.train.checkpoint.save_checkpoint` does for ``last.pt``. Resuming checks that
the stored configuration agrees with the new one on everything that changes the result
(:meth:`RunDir.check_resumable`).

One writer per folder: a trainer holds :class:`~course_lib.train.run_lock.RunLock`
(``run.lock``, taken atomically with an exclusive ``flock`` that the operating system drops when
the process dies, and holding the writer's PID and host for the messages). A second trainer,
or a ``--resume`` while the first still runs, is refused; a lock left by a killed process is
taken over with a message, and the temporary files that process left
(``last.pt.<random>.tmp`` ...) are removed.

:class:`RunDir` is also the way to *read* a finished run in a notebook::

    run = RunDir("runs/facades_pix2pix")
    print(run.summary())
    run.history().series("loss_G_L1")
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import torch

from course_lib.train.engine import History
from course_lib.train.run_lock import RunFolderBusy, RunLock, hold_run_folder

__all__ = ["RunDir", "RunLock", "RunFolderBusy", "hold_run_folder", "write_json_atomic",
           "read_json", "image_grid"]


def read_json(path: str | os.PathLike[str]) -> Any:
    """``json.loads`` of a file, with a one-line error naming the file when it is not JSON."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err}): it was damaged or edited by hand; "
                         "restore it, or delete it (a run folder's config.json is rebuilt from "
                         "last.pt on the next train --resume)") from None


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename:
    readers see the old file or the new one, never a half-written one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` as indented JSON to ``path`` through a temporary file and a rename."""
    return write_text_atomic(path, json.dumps(data, indent=1, sort_keys=False, default=str) + "\n")


def image_grid(rows: Mapping[str, Sequence[torch.Tensor] | torch.Tensor], pad: int = 2
               ) -> torch.Tensor:
    """Stack rows of ``(3, H, W)`` images in [-1, 1] into one ``(H_total, W_total, 3)`` uint8 image.

    Every row must hold images of one size; rows may differ in length (shorter rows are
    padded with white). The row names are not drawn (the PNG's file name says what it is).
    """
    if not rows:
        raise ValueError("image_grid needs at least one row")
    tensors = {name: [torch.as_tensor(x).detach().float().cpu() for x in row]
               for name, row in rows.items()}
    shapes = {tuple(x.shape) for row in tensors.values() for x in row}
    if len(shapes) != 1:
        raise ValueError(f"all images of a grid must have one shape, got {sorted(shapes)}")
    c, h, w = next(iter(shapes))
    if c not in (1, 3):
        raise ValueError(f"grid images need 1 or 3 channels, got {c}")
    ncols = max(len(row) for row in tensors.values())
    canvas = torch.ones(3, len(tensors) * (h + pad) - pad, ncols * (w + pad) - pad)
    for i, row in enumerate(tensors.values()):
        for j, x in enumerate(row):
            canvas[:, i * (h + pad):i * (h + pad) + h, j * (w + pad):j * (w + pad) + w] = \
                x.clamp(-1, 1).expand(3, h, w)
    return canvas.add(1).mul(127.5).round().to(torch.uint8).permute(1, 2, 0).contiguous()


class RunDir:
    """The files of one training run (see the module docstring for the layout).

    Args:
        path: the run's folder (created when the first file is written).
    """

    CONFIG = "config.json"
    CHECKPOINT = "last.pt"
    HISTORY_CSV = "history.csv"
    HISTORY_JSON = "history.json"
    METRICS = "metrics.json"
    SAMPLES = "samples"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # -- paths ---------------------------------------------------------------------------
    @property
    def checkpoint(self) -> Path:
        return self.path / self.CHECKPOINT

    @property
    def samples_dir(self) -> Path:
        return self.path / self.SAMPLES

    def has_checkpoint(self) -> bool:
        return self.checkpoint.is_file()

    # -- config --------------------------------------------------------------------------
    def write_config(self, config: Mapping[str, Any]) -> Path:
        return write_json_atomic(self.path / self.CONFIG, dict(config))

    def read_config(self) -> dict[str, Any]:
        path = self.path / self.CONFIG
        if not path.is_file():
            if self.has_checkpoint():
                raise FileNotFoundError(
                    f"{path} is missing although {self.checkpoint} exists: run `python -m "
                    f"course_lib train ... --run-dir {self.path} --resume` once to rebuild it "
                    "from the checkpoint's copy, or restore it")
            raise FileNotFoundError(
                f"{self.path} is not a run folder: it has no {self.CONFIG}. Pass the folder that "
                "`python -m course_lib train ... --run-dir DIR` wrote")
        config = read_json(path)
        if not isinstance(config, dict):
            raise ValueError(f"{path} holds a {type(config).__name__}, not the settings of a run: "
                             "restore it, or delete it to rebuild it from last.pt")
        return config

    def check_resumable(self, config: Mapping[str, Any], may_differ: Iterable[str] = (),
                        stored: Mapping[str, Any] | None = None) -> None:
        """Raise ``ValueError`` if the stored config (``stored``, default ``config.json``)
        differs from ``config`` in a key that is not in ``may_differ`` (nested keys as
        ``"train.steps"``). A folder without a config is refused (the runner rebuilds
        ``config.json`` from the checkpoint's copy first)."""
        stored = dict(stored) if stored is not None else self.read_config()
        wanted = json.loads(json.dumps(dict(config), default=str))
        skip = set(may_differ)
        diffs: list[str] = []

        def walk(a: Any, b: Any, prefix: str) -> None:
            if prefix in skip:
                return
            if isinstance(a, dict) and isinstance(b, dict):
                for k in sorted(set(a) | set(b)):
                    walk(a.get(k), b.get(k), f"{prefix}.{k}" if prefix else k)
            elif a != b:
                diffs.append(f"{prefix}: {a!r} in the run folder, {b!r} now")

        walk(stored, wanted, "")
        if diffs:
            raise ValueError(
                f"{self.path} holds a run with other settings ({'; '.join(diffs[:6])}"
                f"{' ...' if len(diffs) > 6 else ''}). Resume it with the same arguments, pass "
                "another --run-dir, or delete the folder to start afresh.")

    # -- history -------------------------------------------------------------------------
    def write_history(self, history: History) -> None:
        """``history.csv`` and ``history.json`` (the checkpoint holds it too)."""
        if not history.rows:
            return
        fd, tmp = tempfile.mkstemp(prefix=self.HISTORY_CSV + ".", suffix=".tmp", dir=self.path)
        os.close(fd)
        history.to_csv(tmp)
        os.replace(tmp, self.path / self.HISTORY_CSV)
        write_json_atomic(self.path / self.HISTORY_JSON, history.rows)

    def history(self) -> History:
        """The logged numbers (from ``history.json``, else ``history.csv``)."""
        js, csv_path = self.path / self.HISTORY_JSON, self.path / self.HISTORY_CSV
        if js.is_file():
            return History([{k: float(v) for k, v in r.items()} for r in read_json(js)])
        if csv_path.is_file():
            import csv

            with open(csv_path, newline="") as fh:
                return History([{k: float(v) for k, v in r.items() if v not in ("", None)}
                                for r in csv.DictReader(fh)])
        raise FileNotFoundError(f"{self.path} has no {self.HISTORY_JSON} or {self.HISTORY_CSV} "
                                "yet: the run has not logged a step")

    # -- samples -------------------------------------------------------------------------
    def save_grid(self, step: int, rows: Mapping[str, Sequence[torch.Tensor] | torch.Tensor]
                  ) -> Path:
        """Write ``samples/step_<step>.png``: one row per entry of ``rows`` (e.g. input,
        target, output), images in [-1, 1]."""
        from PIL import Image

        self.samples_dir.mkdir(parents=True, exist_ok=True)
        path = self.samples_dir / f"step_{step:07d}.png"
        fd, tmp = tempfile.mkstemp(prefix="tmp", suffix=".png", dir=self.samples_dir)
        os.close(fd)
        try:
            Image.fromarray(image_grid(rows).numpy()).save(tmp, format="PNG")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def remove_stale_temporaries(self) -> list[Path]:
        """Delete the temporary files a killed writer left (``last.pt.<random>.tmp``, the
        same for config, history and metrics, and unfinished sample grids); only call it
        while holding :class:`RunLock`. Returns the removed paths."""
        from course_lib.train.checkpoint import remove_stale_temporaries

        removed: list[Path] = []
        for name in (self.CHECKPOINT, self.CONFIG, self.HISTORY_CSV, self.HISTORY_JSON,
                     self.METRICS):
            removed += remove_stale_temporaries(self.path / name)
        if self.samples_dir.is_dir():
            removed += remove_stale_temporaries(self.samples_dir / "step.png", prefix="tmp",
                                                suffix=".png")
        return removed

    def sample_grids(self) -> list[Path]:
        """The sample grids written so far, in step order."""
        return sorted(self.samples_dir.glob("step_*.png")) if self.samples_dir.is_dir() else []

    # -- metrics -------------------------------------------------------------------------
    def write_metrics(self, metrics: Mapping[str, Any], name: str | None = None) -> Path:
        return write_json_atomic(self.path / (name or self.METRICS), dict(metrics))

    def read_metrics(self, name: str | None = None) -> dict[str, Any]:
        path = self.path / (name or self.METRICS)
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: the run has not finished, or run "
                                    f"`python -m course_lib evaluate {self.path}`")
        return read_json(path)

    # -- reading a run -------------------------------------------------------------------
    def step(self) -> int:
        """The step of the checkpoint (0 if there is none)."""
        if not self.has_checkpoint():
            return 0
        from course_lib.train.checkpoint import load_checkpoint

        return int(load_checkpoint(self.checkpoint)["step"])

    def summary(self) -> str:
        """A few lines: what was trained on what, how far, the last losses and the metrics."""
        cfg = self.read_config()
        train = cfg.get("train", {})
        lines = [f"run {self.path}: {cfg.get('model', '?')} on {cfg.get('data', {}).get('label', '?')}"]
        lines.append(f"  step {self.step()} of {train.get('steps', '?')}, global batch "
                     f"{train.get('batch_size', '?')}, {train.get('image_size', '?')} px, "
                     f"{train.get('world_size', 1)} process(es) on {train.get('device', '?')}")
        try:
            last = self.history().rows[-1]
            shown = {k: v for k, v in last.items() if k != "step"}
            lines.append(f"  last logged step {int(last['step'])}: " + ", ".join(
                f"{k} {v:.3g}" for k, v in list(shown.items())[:6]))
        except FileNotFoundError:
            lines.append("  no history yet")
        grids = self.sample_grids()
        lines.append(f"  {len(grids)} sample grid(s)" + (f", latest {grids[-1].name}" if grids else ""))
        if (self.path / self.METRICS).is_file():
            m = self.read_metrics()
            nums = {k: v for k, v in m.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            lines.append("  metrics: " + ", ".join(f"{k} {v:.4g}" for k, v in list(nums.items())[:8]))
        else:
            lines.append("  no metrics.json yet")
        return "\n".join(lines)

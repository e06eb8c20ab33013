"""One writer per run folder: a lock file that names its holder and dies with it.

Two trainers writing one run folder (or a ``--resume`` started while the first run still goes)
would interleave ``last.pt`` of one with ``metrics.json`` of the other. :class:`RunLock` lets
one process hold a folder: ``FOLDER/run.lock`` is locked with an exclusive ``flock`` (atomic
between processes, dropped by the operating system when the holder ends, however it ends) and
names the holder (PID, host, start time) for the refusal. :func:`hold_run_folder` is the
re-entrant form the training loop and the command line share: a process that already holds a
folder may enter it again (the command line holds it from its first check to its last write,
the loop inside it from the first step to the last save).
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any, Iterator

__all__ = ["RunFolderBusy", "RunLock", "hold_run_folder"]


class RunFolderBusy(RuntimeError):
    """Another live process holds the run folder (see :class:`RunLock`)."""


class RunLock:
    """The one-writer lock of a run folder: ``FOLDER/run.lock``.

    :meth:`acquire` creates the folder if needed, opens ``run.lock`` and takes an exclusive,
    non-blocking ``fcntl.flock`` on it: atomic between processes, and released by the
    operating system when the holder exits or is killed, so a lock can never outlive its
    process. The file holds ``{"pid", "host", "started"}`` of the holder, to name it in the
    refusal. :meth:`release` (also on leaving a ``with`` block) removes the file, so a file
    whose lock is free was left by a holder that died; it is taken over, and :meth:`acquire`
    returns a note saying so.

    On systems without ``fcntl`` (Windows) the file is created with ``O_EXCL`` instead and a
    holder on this host that no longer runs counts as dead.
    """

    NAME = "run.lock"

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.path = self.folder / self.NAME
        self._fd: int | None = None
        self._created_folder = False

    def __enter__(self) -> "RunLock":
        note = self.acquire()
        if note:
            print(note, file=sys.stderr, flush=True)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    @staticmethod
    def _holder(text: str) -> dict[str, Any]:
        try:
            holder = json.loads(text)
        except json.JSONDecodeError:
            return {}
        return holder if isinstance(holder, dict) else {}

    @staticmethod
    def _describe(holder: dict[str, Any]) -> str:
        return (f"process {holder.get('pid', '?')} on {holder.get('host', '?')}, started "
                f"{holder.get('started', '?')}")

    def _make_folder(self) -> None:
        if self.folder.is_dir():
            return
        try:
            self.folder.mkdir(parents=True)
            self._created_folder = True
        except FileExistsError:
            if not self.folder.is_dir():
                raise ValueError(f"--run-dir {self.folder} is a file, not a folder: pass a "
                                 "folder path") from None
        except (NotADirectoryError, PermissionError, OSError) as err:
            raise ValueError(f"--run-dir {self.folder}: cannot create the run folder "
                             f"({err.strerror or err}); pass a folder you can write to") from None

    def acquire(self) -> str | None:
        """Take the lock; return a note when a dead holder's lock was taken over.

        Raises:
            RunFolderBusy: a live process holds the folder.
            ValueError: the folder cannot be created or written.
        """
        self._make_folder()
        me = {"pid": os.getpid(), "host": socket.gethostname(),
              "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self._acquire_exclusive(me)
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as err:
                raise ValueError(f"--run-dir {self.folder}: cannot write {self.NAME} there "
                                 f"({err.strerror or err}); pass a folder you can write "
                                 "to") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as err:
                if not isinstance(err, BlockingIOError):   # a file system without locks
                    os.ftruncate(fd, 0)
                    os.write(fd, json.dumps(me).encode())
                    self._fd = fd
                    return (f"note: {self.path} cannot be locked on this file system "
                            f"({err.strerror or err}); one writer per folder is not enforced")
                holder = self._holder(os.read(fd, 4096).decode("utf-8", "replace"))
                os.close(fd)
                raise RunFolderBusy(
                    f"{self.folder} is in use by another trainer ({self._describe(holder)}): "
                    "wait for it to finish or stop it, or pass another --run-dir") from None
            try:  # the file we locked may have been removed and recreated meanwhile
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        previous = self._holder(os.read(fd, 4096).decode("utf-8", "replace"))
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(me).encode())
        os.fsync(fd)
        self._fd = fd
        if previous.get("pid") is not None:
            return (f"note: {self.path} named {self._describe(previous)}, which is no longer "
                    "running (killed?); this process takes the folder over")
        return None

    def _acquire_exclusive(self, me: dict[str, Any]) -> str | None:  # pragma: no cover
        note = None
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            holder = self._holder(self.path.read_text())
            alive = True
            if holder.get("host") == me["host"]:
                try:
                    os.kill(int(holder.get("pid", -1)), 0)
                except (ProcessLookupError, ValueError):
                    alive = False
                except PermissionError:
                    alive = True
            if alive:
                raise RunFolderBusy(
                    f"{self.folder} is in use by another trainer ({self._describe(holder)}): "
                    "wait for it to finish or stop it, or pass another --run-dir") from None
            self.path.unlink(missing_ok=True)
            note = (f"note: {self.path} named {self._describe(holder)}, which is no longer "
                    "running (killed?); this process takes the folder over")
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, json.dumps(me).encode())
        self._fd = fd
        return note

    def release(self) -> None:
        """Remove ``run.lock`` and drop the lock (in this order: a process that opened the
        file meanwhile sees, once it gets the lock, that the path is gone, and starts over)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(fd)   # closing the descriptor drops the flock
        if self._created_folder and not any(self.folder.iterdir()):
            try:   # nothing was written: leave no empty folder behind
                self.folder.rmdir()
            except OSError:
                pass

    @property
    def held(self) -> bool:
        return self._fd is not None


_HELD: dict[Path, list[Any]] = {}   # folder (resolved) -> [RunLock, depth] held by this process


@contextlib.contextmanager
def hold_run_folder(folder: str | os.PathLike[str]) -> Iterator[RunLock]:
    """Hold ``folder`` for the ``with`` block (re-entrant within one process); a note goes to
    stderr when a dead holder's lock is taken over.

    Raises:
        RunFolderBusy: another live process holds the folder.
        ValueError: the folder cannot be created or written.
    """
    key = Path(folder).resolve()
    if key in _HELD:
        _HELD[key][1] += 1
    else:
        lock = RunLock(folder)
        note = lock.acquire()
        if note:
            print(note, file=sys.stderr, flush=True)
        _HELD[key] = [lock, 1]
    try:
        yield _HELD[key][0]
    finally:
        _HELD[key][1] -= 1
        if _HELD[key][1] == 0:
            _HELD.pop(key)[0].release()

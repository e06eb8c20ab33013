"""Train several runs at once, one process and one CPU thread each, with one progress bar each.

Why: the course's small networks (32 px, 16 filters, batch 16) leave a second CPU thread
little to do inside one run (PyTorch splits each small convolution across threads, and the
synchronisation eats most of the gain), while two runs in two processes each keep a core
busy. ``benchmarks/side_by_side.py`` measures the ratio on the machine at hand: on the
course's 2-core machine, 500 steps each of notebook 06's pix2pix+noise and BicycleGAN took
21.1 s side by side against 29.4 s one after the other on two threads (1.39x, the two
processes' start-up of a few seconds included; longer runs gain more).

Each job is a function of the course (importable by name, so that a fresh process can find
it) with keyword arguments that can be pickled, e.g.
:func:`course_lib.experiment_bicyclegan.train_bicyclegan` with a ``run_dir``. The jobs run in
spawned processes (a fresh interpreter: nothing of the parent's threads or state is copied);
each gets ``on_step`` to report its step, which the parent shows as a ``tqdm.auto`` bar. The
jobs' results stay in their run folders: the parent reads them back by calling the same
function with the same ``run_dir``, which only evaluates a finished run::

    run_side_by_side({"pix2pix+noise": (train_bicyclegan, dict(..., run_dir=a)),
                      "BicycleGAN": (train_bicyclegan, dict(..., run_dir=b))},
                     totals={"pix2pix+noise": 3000, "BicycleGAN": 3000})

An interrupted cell (Ctrl-C, a stopped kernel) stops the processes; the next call continues
each run from its last checkpoint, as a run in the notebook's own process would.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
import traceback
from typing import Any, Callable, Mapping

__all__ = ["Job", "run_side_by_side", "side_by_side_available"]

Job = tuple[Callable[..., Any], Mapping[str, Any]]


def side_by_side_available(device: str = "cpu", jobs: int = 2) -> bool:
    """Whether running ``jobs`` runs in parallel processes helps here: on a CPU device with at
    least as many cores as jobs (on a GPU the runs share one device: run them in turn)."""
    return str(device).startswith("cpu") and (os.cpu_count() or 1) >= jobs


class _StepReporter:
    """``on_step`` for a child: stores the step in a shared integer (picklable to a spawned
    process, unlike a closure)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __call__(self, step: int) -> None:
        self.value.value = step


def _end_with_parent() -> None:
    """Linux: ask the kernel to stop this process when the process that started it ends (a
    restarted notebook kernel must not leave a run training and holding its folder's lock).
    Elsewhere nothing is done: the run ends with its job."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _child(fn: Callable[..., Any], kwargs: Mapping[str, Any], counter: Any, threads: int,
           errors: Any, name: str, parent: int) -> None:
    _end_with_parent()
    if os.getppid() != parent:           # the parent ended before the line above took effect
        raise SystemExit(1)
    import torch

    torch.set_num_threads(threads)
    try:
        fn(**kwargs, on_step=_StepReporter(counter))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises
        errors.put((name, f"{type(exc).__name__}: {exc}", traceback.format_exc()))
        raise SystemExit(1) from None


def _check_jobs(jobs: Mapping[str, Job], totals: Mapping[str, int]) -> None:
    if not jobs:
        raise ValueError("jobs is empty: pass {name: (function, keyword arguments)}")
    for name, job in jobs.items():
        if not (isinstance(job, tuple) and len(job) == 2 and callable(job[0])
                and isinstance(job[1], Mapping)):
            raise ValueError(f"job {name!r} must be (function, dict of keyword arguments), got "
                             f"{job!r}")
        fn = job[0]
        if getattr(fn, "__module__", "__main__") == "__main__" or "<locals>" in getattr(
                fn, "__qualname__", ""):
            raise ValueError(f"job {name!r}: {getattr(fn, '__qualname__', fn)!r} is defined in "
                             f"the notebook or inside a function, so a new process cannot "
                             f"import it; pass a function of course_lib (or run the jobs in "
                             f"turn)")
        if "on_step" in job[1]:
            raise ValueError(f"job {name!r}: on_step is set by run_side_by_side; remove it")
    missing = [n for n in jobs if n not in totals]
    if missing:
        raise ValueError(f"totals has no step count for {missing}: pass totals={{name: steps}}")


def run_side_by_side(jobs: Mapping[str, Job], totals: Mapping[str, int], threads: int = 1,
                     progress: bool = True, poll: float = 0.5) -> float:
    """Run every job at once, each in its own process with ``threads`` CPU threads.

    Args:
        jobs: ``{name: (function, keyword arguments)}``; the function must accept ``on_step``
            and be importable (defined in a module, not in the notebook).
        totals: ``{name: steps}`` for the progress bars.
        threads: ``torch.set_num_threads`` in each process (1: one core per run).
        progress: one ``tqdm.auto`` bar per job.
        poll: seconds between progress updates.

    Returns the wall-clock seconds. Raises ``RuntimeError`` naming every job that failed, with
    its error, after the others have finished; on ``KeyboardInterrupt`` it stops them all.
    """
    _check_jobs(jobs, totals)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads={threads!r} must be a positive int")
    ctx = mp.get_context("spawn")
    errors = ctx.Queue()
    procs: dict[str, Any] = {}
    counters: dict[str, Any] = {}
    bars: dict[str, Any] = {}
    if progress:
        from course_lib.progress import tqdm

        bars = {name: tqdm(total=int(totals[name]), desc=name, unit="step") for name in jobs}
    t0 = time.perf_counter()
    try:
        for name, (fn, kwargs) in jobs.items():
            counters[name] = ctx.Value("l", 0)
            procs[name] = ctx.Process(target=_child, name=f"side-by-side: {name}", daemon=True,
                                      args=(fn, dict(kwargs), counters[name], threads, errors,
                                            name, os.getpid()))
            procs[name].start()
        while any(p.is_alive() for p in procs.values()):
            for name, bar in bars.items():
                step = counters[name].value
                if step > bar.n:
                    bar.update(step - bar.n)
            time.sleep(poll)
        for p in procs.values():
            p.join()
    except KeyboardInterrupt:
        for p in procs.values():
            if p.is_alive():
                p.terminate()
        for p in procs.values():
            p.join()
        print("interrupted: run the same cell again to continue each run from its last "
              "checkpoint")
        raise
    finally:
        for name, bar in bars.items():
            step = counters[name].value if name in counters else 0
            if step > bar.n:
                bar.update(step - bar.n)
            bar.close()
    failures: dict[str, str] = {}
    while not errors.empty():
        name, message, _trace = errors.get()
        failures[name] = message
    for name, p in procs.items():
        if p.exitcode and name not in failures:
            failures[name] = f"the process ended with exit code {p.exitcode}"
    if failures:
        raise RuntimeError("side-by-side runs failed: " + "; ".join(
            f"{name}: {msg}" for name, msg in failures.items()))
    return time.perf_counter() - t0

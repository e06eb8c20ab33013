"""Dry-run every solution notebook at the gpu profile's sizes on the CPU (``make test-gpu-dry``).

    python tools/gpu_dry_run.py                       # all of solutions/, 2 steps per run
    python tools/gpu_dry_run.py solutions/05_pix2pixhd.ipynb --max-steps 2 --out report.md

Each notebook runs top to bottom in a fresh kernel with ``COURSE_PROFILE=gpu`` and
``COURSE_MAX_STEPS`` (default 2): the papers' networks at 256 px (pix2pixHD's street scenes at
the gpu profile's 256x512 and 512x1024), every cell, every widget's static fallback, but every
training run capped at a few steps and the data at 16 training / 8 evaluation pairs
(:func:`course_lib.profiles.get_profile`). It proves that the gpu profile executes, not that
its claims show.

Each notebook runs in its own subprocess (nbclient, kernel ``python3``) inside a temporary
working folder, with its own segmenter cache (``COURSE_CACHE``), so a dry run never touches
``runs/`` or the cached segmenters of real runs. Reported per notebook: wall time and the peak
resident memory (RSS) of the process tree, read from ``getrusage(RUSAGE_CHILDREN)`` once the
kernel has exited (Linux reports the largest peak among the waited-for descendants: the
kernel, or a process the notebook started). A failing notebook is reported with its error and
makes the exit status non-zero.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Run inside the per-notebook subprocess: execute, then report the peak RSS of the kernel.
_CHILD = r"""
import json, resource, sys
import nbformat
from nbclient import NotebookClient
path, workdir, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3])
nb = nbformat.read(path, as_version=4)
error = None
try:
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": workdir}}).execute()
except Exception as err:
    error = f"{type(err).__name__}: {str(err).strip().splitlines()[-1] if str(err).strip() else ''}"
peak = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
           resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
print("DRYRUN " + json.dumps({"peak_rss_mib": peak / 1024, "error": error}))
"""


def run_notebook(path: Path, max_steps: int, timeout: int) -> dict[str, object]:
    """Execute one notebook in a subprocess at the gpu profile, capped; returns its record."""
    with tempfile.TemporaryDirectory(prefix="gpu_dry_") as tmp:
        env = dict(os.environ, COURSE_PROFILE="gpu", COURSE_MAX_STEPS=str(max_steps),
                   COURSE_CACHE=str(Path(tmp) / "cache"), MPLBACKEND="Agg",
                   COURSE_STRICT_EXERCISES="1",     # a broken solution fails, as in make test
                   JPY_SESSION_NAME=str(path.resolve()),
                   PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT),
                                                            os.environ.get("PYTHONPATH")])))
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", _CHILD, str(path), tmp, str(timeout)],
                              env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
    record: dict[str, object] = {"notebook": path.name, "seconds": round(seconds, 1),
                                 "peak_rss_mib": None, "error": None}
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("DRYRUN ")), None)
    if line is None:
        record["error"] = (f"exit status {done.returncode}: "
                           f"{(done.stderr.strip().splitlines() or ['no output'])[-1]}")
    else:
        record.update(json.loads(line[len("DRYRUN "):]))
        if record["peak_rss_mib"] is not None:
            record["peak_rss_mib"] = round(float(record["peak_rss_mib"]))  # type: ignore[arg-type]
    return record


def markdown(records: list[dict[str, object]], max_steps: int) -> str:
    """The report as a Markdown table."""
    lines = [f"Dry run at the gpu profile, COURSE_MAX_STEPS={max_steps}, on the CPU "
             f"({os.cpu_count()} cores, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '-')})",
             "", "| notebook | wall time (s) | peak RSS (MiB) | result |", "|---|---|---|---|"]
    for r in records:
        lines.append(f"| {r['notebook']} | {r['seconds']} | {r['peak_rss_mib'] or '-'} | "
                     f"{'ok' if not r['error'] else r['error']} |")
    total = sum(float(r["seconds"]) for r in records)  # type: ignore[arg-type]
    lines.append(f"| all | {total:.0f} | {max((r['peak_rss_mib'] or 0) for r in records)} | |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to run (default: every solutions/*.ipynb)")
    parser.add_argument("--max-steps", type=int, default=2, help="COURSE_MAX_STEPS (default 2)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    parser.add_argument("--json", type=Path, default=None, help="also write the records here")
    args = parser.parse_args(argv)
    if args.max_steps < 1:
        parser.error(f"--max-steps must be a positive integer, got {args.max_steps}")
    notebooks = args.notebooks or sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    missing = [str(p) for p in notebooks if not Path(p).is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    records = []
    for path in notebooks:
        print(f"{path.name}: running at the gpu profile, COURSE_MAX_STEPS={args.max_steps} ...",
              flush=True)
        rec = run_notebook(Path(path), args.max_steps, args.timeout)
        print(f"{path.name}: {rec['seconds']} s, peak RSS {rec['peak_rss_mib']} MiB, "
              f"{'ok' if not rec['error'] else 'FAILED: ' + str(rec['error'])}", flush=True)
        records.append(rec)
    table = markdown(records, args.max_steps)
    print(table)
    if args.out:
        args.out.write_text(table)
    if args.json:
        args.json.write_text(json.dumps(records, indent=1))
    return 1 if any(r["error"] for r in records) else 0


if __name__ == "__main__":
    raise SystemExit(main())

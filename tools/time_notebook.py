"""Execute notebooks and print the wall time of each cell and of the whole notebook.

    COURSE_PROFILE=cpu python tools/time_notebook.py solutions/00_data.ipynb [--top 5]

Used to measure the README's syllabus timings; nothing is written back to the notebook.
``--save DIR`` writes each executed notebook (with its outputs) to DIR, to read the numbers a
run measured; DIR must not be the notebook's own folder.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def time_notebook(path: Path, top: int, timeout: int, save: Path | None = None) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    times: list[tuple[float, int, str]] = []
    start = time.perf_counter()
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            t = time.perf_counter()
            client.execute_cell(cell, index)
            if cell.cell_type == "code":
                first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
                times.append((time.perf_counter() - t, index, first[:60]))
    total = time.perf_counter() - start
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, save / path.name)
    print(f"{total:7.1f} s  {path}")
    for seconds, index, first in sorted(times, reverse=True)[:top]:
        print(f"    {seconds:6.1f} s  cell {index:2d}  {first}")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=5, help="slowest cells to list")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    parser.add_argument("--save", type=Path, default=None, metavar="DIR",
                        help="write the executed notebooks (with outputs) to DIR")
    args = parser.parse_args()
    for path in args.notebooks:
        if args.save is not None and args.save.resolve() == path.parent.resolve():
            parser.error(f"--save {args.save} is the notebook's own folder: the executed copy "
                         "would replace the source; pass another folder")
        time_notebook(path, args.top, args.timeout, args.save)


if __name__ == "__main__":
    main()

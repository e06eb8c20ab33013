#!/usr/bin/env python3
"""Write the student notebooks (notebooks/) from the solution notebooks (solutions/).

solutions/NN_topic.ipynb is the single source. For each one this tool

1. rewrites its set-up cell (the code cell tagged ``bootstrap``) from the template below, with
   the repository URL taken from pyproject.toml ([project.urls] Repository), so the URL lives
   in one place (``COURSE_REPO_URL`` in the environment overrides it, e.g. for a fork or a
   test). On Colab the cell installs the course from a clone at, above or just below the
   notebook's folder, else from a ``course_lib-*.whl`` beside the notebook, else from that
   URL; elsewhere it names the command that sets up a kernel (``make lab``);
2. strips outputs, execution counts and per-run metadata from the solution notebook;
3. writes notebooks/NN_topic.ipynb, where every region between ``### BEGIN SOLUTION`` and
   ``### END SOLUTION`` is replaced by nbgrader's stub (``# YOUR CODE HERE`` followed by
   ``raise NotImplementedError()``), at the indentation of the BEGIN marker.

The markers are the ones nbgrader uses, so a teacher can also run the solutions through
nbgrader. ``--check`` writes nothing and exits 1 when any notebook is out of date (the test
suite uses it).

A learner works in notebooks/. A student notebook that holds the learner's work (outputs, or
fewer unanswered stubs than the committed version) is never overwritten unless ``--force``
(``make notebooks FORCE=1``) is given: the tool names it and leaves it alone.

Usage: python tools/make_student.py [--check] [--force] [--root DIR]
"""
from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import tomllib
from pathlib import Path

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]
BOOTSTRAP_TAG = "bootstrap"

BOOTSTRAP_TEMPLATE = '''\
# Set-up: make `course_lib` importable. On Colab this installs the course first: from a clone
# next to this notebook (`!git clone ...`), else from a course_lib-*.whl here, else from GitHub.
import importlib, importlib.util, os, subprocess, sys
from pathlib import Path

COURSE_REPO = os.environ.get("COURSE_REPO_URL", "{url}")
ON_COLAB = "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def course_clone():
    \"\"\"The repository root at or above this folder, or just below it (Colab's /content).\"\"\"
    here = Path.cwd()
    for d in [here, *here.parents, *sorted(p for p in here.iterdir() if p.is_dir())]:
        if (d / "course_lib" / "__init__.py").is_file() and (d / "pyproject.toml").is_file():
            return d
    return None


def pip_install(*args):
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *args], check=True)


if importlib.util.find_spec("course_lib") is None:
    if not ON_COLAB:
        raise ModuleNotFoundError(
            "course_lib is not installed in this Jupyter kernel. From the repository root run\\n"
            "    make lab\\n"
            "It creates .venv, installs course_lib and opens JupyterLab with the right kernel.")
    clone, wheels = course_clone(), sorted(Path.cwd().glob("course_lib-*.whl"))
    if clone is not None:
        pip_install("-e", str(clone))          # Colab keeps its own torch and ipywidgets
        sys.path.insert(0, str(clone))         # (an editable install shows after a restart)
    else:
        pip_install(str(wheels[-1]) if wheels else f"git+{{COURSE_REPO}}")
    importlib.invalidate_caches()
if ON_COLAB:
    from course_lib.widgets.frontend import enable_colab_widgets
    enable_colab_widgets()                     # only needed (and done) with ipywidgets 8'''


def repo_url(root: Path) -> str:
    """The repository URL from pyproject.toml, the one place it is kept."""
    meta = tomllib.loads((root / "pyproject.toml").read_text())
    return meta["project"]["urls"]["Repository"]


def bootstrap_source(root: Path) -> str:
    """The set-up cell every notebook starts with."""
    return BOOTSTRAP_TEMPLATE.format(url=repo_url(root))


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _lines(text: str) -> list[str]:
    """Split into Jupyter's list-of-lines form (every line but the last keeps its newline)."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def strip_solutions(text: str, where: str = "") -> str:
    """Replace every BEGIN/END SOLUTION region by the stub, keeping the marker's indentation."""
    out: list[str] = []
    inside = False
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ValueError(f"{where}: line {number}: nested {BEGIN}")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + s for s in STUB)
        elif stripped == END:
            if not inside:
                raise ValueError(f"{where}: line {number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: {BEGIN} is never closed by {END}")
    return "\n".join(out)


def clean(nb: dict) -> dict:
    """Drop outputs, execution counts and run-specific metadata."""
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        cell["source"] = _lines(_source(cell))
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        meta = cell.get("metadata", {})
        for key in ("execution", "collapsed", "scrolled", "ExecuteTime"):
            meta.pop(key, None)
        cell["metadata"] = meta
    nb.get("metadata", {}).pop("widgets", None)
    return nb


def with_bootstrap(nb: dict, source: str, where: str) -> dict:
    nb = copy.deepcopy(nb)
    tagged = [c for c in nb["cells"] if BOOTSTRAP_TAG in c.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        raise ValueError(f"{where}: expected exactly one code cell tagged '{BOOTSTRAP_TAG}' "
                         f"(the set-up cell), found {len(tagged)}")
    tagged[0]["source"] = _lines(source)
    return nb


def student_version(nb: dict, where: str) -> dict:
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and BEGIN in _source(cell):
            cell["source"] = _lines(strip_solutions(_source(cell), where))
    return nb


def dumps(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def build(root: Path) -> dict[Path, str]:
    """Map every notebook path (solutions/ and notebooks/) to the text it should have."""
    sources = sorted((root / "solutions").glob("*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"no notebooks in {root / 'solutions'}")
    boot = bootstrap_source(root)
    wanted: dict[Path, str] = {}
    for path in sources:
        where = str(path.relative_to(root))
        nb = clean(with_bootstrap(json.loads(path.read_text()), boot, where))
        wanted[path] = dumps(nb)
        wanted[root / "notebooks" / path.name] = dumps(student_version(nb, where))
    return wanted


def stale(root: Path) -> list[Path]:
    """Notebooks whose committed text differs from what this tool writes (or extra ones)."""
    wanted = build(root)
    out = [p for p, text in wanted.items() if not p.exists() or p.read_text() != text]
    extra = [p for p in sorted((root / "notebooks").glob("*.ipynb")) if p not in wanted]
    return out + extra


def committed_text(root: Path, path: Path) -> str | None:
    """The text of ``path`` at git's HEAD, or None (no git, not a checkout, not committed)."""
    try:
        rel = path.resolve().relative_to(root.resolve()).as_posix()
        result = subprocess.run(["git", "-C", str(root), "show", f"HEAD:{rel}"],
                                capture_output=True, text=True, timeout=60)
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    return result.stdout if result.returncode == 0 else None


def _stubs(text: str) -> int:
    return text.count(STUB[1])


def learner_edited(root: Path, path: Path, wanted: str) -> bool:
    """Does the student notebook ``path`` hold a learner's work?

    True when it differs from what this tool writes and either has outputs or execution counts
    (it was run and saved) or has fewer unanswered stubs (``raise NotImplementedError()``)
    than the committed version (or, without git, than the generated one).
    """
    if not path.exists():
        return False
    text = path.read_text()
    if text == wanted:
        return False
    try:
        cells = json.loads(text).get("cells", [])
    except json.JSONDecodeError:
        return True                                      # half-saved: never overwrite
    ran = any(c.get("outputs") or c.get("execution_count") is not None
              for c in cells if c.get("cell_type") == "code")
    reference = committed_text(root, path)
    return ran or _stubs(text) < _stubs(reference if reference is not None else wanted)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if any notebook is out of date")
    parser.add_argument("--force", action="store_true",
                        help="overwrite student notebooks even when they hold a learner's work")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.check:
        bad = stale(root)
        for p in bad:
            print(f"out of date: {p.relative_to(root)}")
        if bad:
            print("run `make notebooks` to regenerate notebooks/ from solutions/")
        return 1 if bad else 0
    (root / "notebooks").mkdir(exist_ok=True)
    kept = []
    for path, text in build(root).items():
        if not path.exists() or path.read_text() != text:
            if (path.parent.name == "notebooks" and not args.force
                    and learner_edited(root, path, text)):
                kept.append(path)
                continue
            path.write_text(text)
            print(f"wrote {path.relative_to(root)}")
    if kept:
        print("kept (they hold your work: outputs or answered exercises): "
              + ", ".join(str(p.relative_to(root)) for p in kept)
              + "\nto overwrite them with fresh copies, run `make notebooks FORCE=1` "
              "(python tools/make_student.py --force); save your answers elsewhere first",
              file=sys.stderr)
    for p in sorted((root / "notebooks").glob("*.ipynb")):
        if not (root / "solutions" / p.name).exists():
            print(f"warning: {p.relative_to(root)} has no source in solutions/", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

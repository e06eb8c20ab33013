"""Test-suite set-up shared by the unit tests and the notebook runs (nbval).

* Notebooks run under the tiny ``ci`` profile unless COURSE_PROFILE says otherwise.
* Notebooks in solutions/ run with COURSE_STRICT_EXERCISES=1: an exercise checker that would
  fall back to the reference raises instead, so a broken solution fails the suite.
* At the end, a table of wall-clock time per notebook, so that slow-downs show.
"""
from __future__ import annotations

import os
import time
from collections import defaultdict
from pathlib import Path

import pytest

os.environ.setdefault("COURSE_PROFILE", "ci")
os.environ.setdefault("MPLBACKEND", "Agg")

_NOTEBOOK_TIME: dict[str, float] = defaultdict(float)
_NOTEBOOK_FAIL: dict[str, int] = defaultdict(int)
_STARTED: dict[str, float] = {}


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    # `pytest -p no:nbval tests/...` (unit tests only) must still accept the nbval flags that
    # pyproject's addopts passes; register inert stand-ins when nbval is switched off.
    if pluginmanager.has_plugin("nbval"):
        return
    group = parser.getgroup("nbval (disabled)")
    group.addoption("--nbval-lax", action="store_true", help="(nbval is disabled)")
    group.addoption("--nbval-current-env", action="store_true", help="(nbval is disabled)")
    group.addoption("--nbval-cell-timeout", action="store", help="(nbval is disabled)")


def _notebook_of(item: pytest.Item) -> str | None:
    path = Path(str(item.fspath))
    return str(path.relative_to(Path(__file__).parent)) if path.suffix == ".ipynb" else None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Runs before nbval starts the notebook's kernel, which inherits this environment.
    nb = _notebook_of(item)
    if nb is None:
        return
    if nb.startswith("solutions"):
        os.environ["COURSE_STRICT_EXERCISES"] = "1"
    else:
        os.environ.pop("COURSE_STRICT_EXERCISES", None)
    _STARTED.setdefault(nb, time.perf_counter())


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _NOTEBOOK_TIME[path] += report.duration
        if report.failed:
            _NOTEBOOK_FAIL[path] += 1


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if not _NOTEBOOK_TIME:
        return
    tr = terminalreporter
    tr.section("time per notebook (profile %s)" % os.environ.get("COURSE_PROFILE", "?"))
    for nb in sorted(_NOTEBOOK_TIME):
        fails = _NOTEBOOK_FAIL.get(nb, 0)
        tr.write_line(f"{_NOTEBOOK_TIME[nb]:8.1f} s  {nb}" + (f"  ({fails} failed)" if fails else ""))
    tr.write_line(f"{sum(_NOTEBOOK_TIME.values()):8.1f} s  all notebooks")

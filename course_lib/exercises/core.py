"""The exercise mechanism: check a learner's code, fall back to the reference if unfinished.

Every exercise in the notebooks ends with a line such as::

    paired_jitter = check_paired_jitter(paired_jitter)

The checker runs the learner's function against properties that the reference satisfies, on
small inputs, and prints one clear line:

* passed           -> returns the learner's function, so the rest of the notebook uses it;
* not done yet     -> (the stub raised ``NotImplementedError``) returns the reference from
                      ``course_lib`` so later cells still run;
* failed           -> prints the reason and returns the reference as well.

While a reference stands in for a learner's answer, every later notebook cell that uses it (and
the set-up cell, e.g. after a kernel restart) starts with a one-line ``[REFERENCE]`` reminder, so
that the fallback is never silent (see :func:`reference_reminders`).

In the solution notebooks every checker must pass. Setting the environment variable
``COURSE_STRICT_EXERCISES=1`` (the test suite does this for ``solutions/``) turns a fallback
into an exception, so a solution that silently fell back to the reference fails CI.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, TypeVar

__all__ = ["ExerciseFailed", "ExerciseResult", "expect", "expect_raises",
           "reference_reminders", "run_check",
           "strict_mode", "STRICT_ENV"]

T = TypeVar("T")
STRICT_ENV = "COURSE_STRICT_EXERCISES"


class ExerciseFailed(AssertionError):
    """A learner's answer does not have a property that the reference has."""


@dataclass(frozen=True)
class ExerciseResult:
    """What a checker found: the exercise name, whether it passed, and why not."""

    name: str
    status: str  # "passed", "not done", "failed"
    reason: str = ""


def expect(condition: bool, message: str) -> None:
    """Raise :class:`ExerciseFailed` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise ExerciseFailed(message)


def expect_raises(call: Callable[[], object], error: type[BaseException],
                  message: str | Callable[[object], str]) -> BaseException:
    """Run ``call()``, which must raise ``error``; return the error it raised.

    If ``call()`` returns normally instead, raise :class:`ExerciseFailed` with ``message`` (or
    ``message(returned_value)``), so the learner reads that their code did *not* raise, not
    that it crashed. Any other exception propagates, and :func:`run_check` reports it as the
    learner's code raising it.
    """
    try:
        returned = call()
    except error as err:
        return err
    raise ExerciseFailed(message(returned) if callable(message) else message)


def strict_mode() -> bool:
    """True when fallbacks must raise (``COURSE_STRICT_EXERCISES=1``)."""
    return os.environ.get(STRICT_ENV, "").strip().lower() in ("1", "true", "yes")


# Exercises whose reference is in use now: exercise name -> (reference object, why).
_IN_USE: dict[str, tuple[Any, str]] = {}


def reference_reminders(source: str, namespace: Mapping[str, Any]) -> list[str]:
    """The ``[REFERENCE]`` lines to show before running the cell ``source``.

    One line per exercise whose reference is in use and is bound to a name in ``namespace``
    that ``source`` uses (a cell that defines the name again, the exercise cell, is left
    alone); the set-up cell (``setup(``) lists every one of them.
    """
    lines = []
    setup_cell = "setup(" in source
    for exercise, (reference, why) in _IN_USE.items():
        own = getattr(reference, "__name__", None)          # the library's own name: not news
        names = sorted(k for k, v in namespace.items()
                       if v is reference and not k.startswith("_") and k != own)
        used = [n for n in names if re.search(rf"(?<![\w.]){re.escape(n)}\b", source)]
        if any(re.search(rf"^\s*(def|class)\s+{re.escape(n)}\b", source, re.M) for n in used):
            continue
        if used or (setup_cell and names):
            label = ", ".join(f"`{n}`" for n in (used or names))
            lines.append(f"[REFERENCE] {label} is course_lib's reference for the exercise "
                         f"'{exercise}' ({why}); run the exercise cell again to use your own.")
    return lines


def _install_reminder() -> None:
    """In IPython, print the reminders before each cell runs (once per kernel)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or getattr(shell, "_course_reference_reminder", False):
        return

    def before_cell(info: Any = None) -> None:
        source = getattr(info, "raw_cell", "") or ""
        for line in reference_reminders(source, shell.user_ns):
            print(line)

    shell.events.register("pre_run_cell", before_cell)
    shell._course_reference_reminder = True


def run_check(name: str, learner: T, reference: T, check: Callable[[T], str | None],
              verbose: bool = True) -> T:
    """Run ``check(learner)``; return the learner's object if it passes, else the reference.

    Args:
        name: the exercise's name as the notebook shows it.
        learner: the learner's function or class.
        reference: the implementation from ``course_lib`` with the same signature.
        check: raises :class:`ExerciseFailed` (or any error) when something is wrong;
            may return a short string describing what passed.
        verbose: print the one-line verdict.

    Raises:
        ExerciseFailed: in strict mode, when the exercise is not done or fails.
    """
    try:
        detail = check(learner)
    except NotImplementedError:
        result = ExerciseResult(name, "not done",
                                "the function still raises NotImplementedError")
    except ExerciseFailed as err:
        result = ExerciseResult(name, "failed", str(err))
    except Exception as err:  # the learner's code crashed: report it, keep the course going
        reason = f"your code raised {type(err).__name__}: {err}"
        if isinstance(err, NameError):
            reason += (" (after a kernel restart, run the cells above this one first, from the "
                       "set-up cell on: they define the names your code uses)")
        result = ExerciseResult(name, "failed", reason)
    else:
        _IN_USE.pop(name, None)
        if verbose:
            extra = f" ({detail})" if detail else ""
            print(f"[PASS] {name}: all checks passed{extra}.")
        return learner

    if strict_mode():
        _IN_USE.pop(name, None)
        raise ExerciseFailed(f"{name}: {result.status}: {result.reason} "
                             f"(strict mode, {STRICT_ENV}=1: solutions must pass every check)")
    if verbose:
        if result.status == "not done":
            print(f"[TODO] {name}: not done yet ({result.reason}). Using the reference "
                  "implementation from course_lib so the rest of the notebook runs.")
        else:
            print(f"[FAIL] {name}: {result.reason}\n       Using the reference implementation "
                  "from course_lib for now; fix your code and run this cell again.")
    _IN_USE[name] = (reference, "your answer is not done yet" if result.status == "not done"
                     else "your answer did not pass its check")
    _install_reminder()
    return reference

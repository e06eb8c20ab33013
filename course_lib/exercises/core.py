"""The exercise mechanism: check a learner's code, fall back to the reference if unfinished.

Every exercise in the notebooks ends with a line such as::

    paired_jitter = check_paired_jitter(paired_jitter)

The checker runs the learner's function against properties that the reference satisfies, on
small inputs, and prints one clear line:

* passed           -> returns the learner's function, so the rest of the notebook uses it;
* not done yet     -> (the stub raised ``NotImplementedError``) returns the reference from
                      ``course_lib`` so later cells still run;
* failed           -> prints the reason and returns the reference as well.

In the solution notebooks every checker must pass. Setting the environment variable
``COURSE_STRICT_EXERCISES=1`` (the test suite does this for ``solutions/``) turns a fallback
into an exception, so a solution that silently fell back to the reference fails CI.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, TypeVar

__all__ = ["ExerciseFailed", "ExerciseResult", "expect", "expect_raises", "run_check",
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
        result = ExerciseResult(name, "failed", f"your code raised {type(err).__name__}: {err}")
    else:
        if verbose:
            extra = f" ({detail})" if detail else ""
            print(f"[PASS] {name}: all checks passed{extra}.")
        return learner

    if strict_mode():
        raise ExerciseFailed(f"{name}: {result.status}: {result.reason} "
                             f"(strict mode, {STRICT_ENV}=1: solutions must pass every check)")
    if verbose:
        if result.status == "not done":
            print(f"[TODO] {name}: not done yet ({result.reason}). Using the reference "
                  "implementation from course_lib so the rest of the notebook runs.")
        else:
            print(f"[FAIL] {name}: {result.reason}\n       Using the reference implementation "
                  "from course_lib for now; fix your code and run this cell again.")
    return reference

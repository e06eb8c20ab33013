"""Exercise checkers for the notebooks (see :mod:`course_lib.exercises.core`)."""
from course_lib.exercises.core import ExerciseFailed, expect, run_check, strict_mode
from course_lib.exercises.data import check_paired_jitter

__all__ = ["ExerciseFailed", "check_paired_jitter", "expect", "run_check", "strict_mode"]

"""Exercise checkers for the notebooks (see :mod:`course_lib.exercises.core`)."""
from course_lib.exercises.core import ExerciseFailed, expect, run_check, strict_mode
from course_lib.exercises.data import check_paired_jitter
from course_lib.exercises.losses import check_gan_loss
from course_lib.exercises.receptive import check_receptive_field

__all__ = ["ExerciseFailed", "check_gan_loss", "check_paired_jitter", "check_receptive_field",
           "expect", "run_check", "strict_mode"]

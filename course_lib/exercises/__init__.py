"""Exercise checkers for the notebooks (see :mod:`course_lib.exercises.core`)."""
from course_lib.exercises.bicyclegan import (check_hybrid_generator_loss,
                                             check_latent_regression,
                                             check_reparameterization)
from course_lib.exercises.beyond import check_ab_image
from course_lib.exercises.core import ExerciseFailed, expect, run_check, strict_mode
from course_lib.exercises.data import check_paired_jitter
from course_lib.exercises.losses import check_gan_loss
from course_lib.exercises.pix2pixhd import (check_feature_matching_loss,
                                            check_instance_average_pool,
                                            check_instance_boundaries)
from course_lib.exercises.receptive import check_receptive_field
from course_lib.exercises.training import check_training_step
from course_lib.exercises.unet import check_unet_block

__all__ = ["ExerciseFailed", "check_gan_loss", "check_paired_jitter", "check_receptive_field",
           "check_training_step", "check_unet_block", "expect", "run_check", "strict_mode"]
__all__ += ["check_hybrid_generator_loss", "check_latent_regression",
            "check_reparameterization"]
__all__ += ["check_ab_image"]
__all__ += ["check_feature_matching_loss", "check_instance_boundaries",
            "check_instance_average_pool"]

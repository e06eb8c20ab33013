"""Training: the shared loop, checkpoints, the learning-rate schedule and one file per model."""
from course_lib.train.checkpoint import clean_state_dict, load_checkpoint, save_checkpoint, unwrap
from course_lib.train.engine import History, LoopConfig, TrainingLoop
from course_lib.train.sampling import StepBatchSampler
from course_lib.train.schedule import linear_decay_multiplier, linear_decay_scheduler

__all__ = ["History", "LoopConfig", "StepBatchSampler", "TrainingLoop", "clean_state_dict",
           "linear_decay_multiplier", "linear_decay_scheduler", "load_checkpoint",
           "save_checkpoint", "unwrap"]

"""The trainer and what it stands on: the loop built of stages, schedules, evaluation, numerics,
memory probes, processes (torchrun) and provenance. It knows no method."""
from .inference import evaluate, predict, predict_features
from .fit import TRAINING_REVISION, fit
from .schedule import learning_rate
from .stage import Stage, Step

__all__ = ["TRAINING_REVISION", "fit", "evaluate", "predict", "predict_features", "learning_rate", "Stage", "Step"]

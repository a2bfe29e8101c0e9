"""The learning-rate schedules: cosine to zero per step, or RepDistiller's step decay."""
import math


def learning_rate(cfg, epoch: int, step: int, steps_per_epoch: int) -> float:
    """LR at 0-based ``epoch`` and ``step``: cosine to 0 per step, or RepDistiller's step decay.

    RepDistiller's rule: ``lr * decay ** #(e > m for m in milestones)`` for the 1-based epoch e.
    """
    if cfg.schedule == "cosine":
        progress = (epoch * steps_per_epoch + step) / (cfg.epochs * steps_per_epoch)
        return cfg.lr * 0.5 * (1 + math.cos(math.pi * progress))
    return cfg.lr * cfg.lr_decay ** sum(epoch + 1 > m for m in cfg.milestones)

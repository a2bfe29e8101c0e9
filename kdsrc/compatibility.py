"""Which intermediate-layer methods can pair a student with a teacher, and at what connector cost.

Builds each method's distiller for every teacher (nothing trains) and reports the trainable
parameters it adds, or the one-line error with which it refuses the pair.
"""
import pandas as pd
import torch

from . import distillers
from .book import COMPATIBILITY_SETTINGS
from .data import Dataset
from .models import build_model
from .validate import ConfigError

def compatibility(student: str, teachers: list[str], data: Dataset, settings: dict = COMPATIBILITY_SETTINGS) -> pd.DataFrame:
    """One row per method setting, one column per teacher: the extra trainable parameters of the
    distiller built for ``student`` ← teacher (0: no connector needed), or ``refuses: <reason>``."""
    rows = []
    for label, (method, params) in settings.items():
        row = {"method": label}
        for teacher in teachers:
            torch.manual_seed(0)
            pair = (build_model(student, data.num_classes, data.in_channels),
                    build_model(teacher, data.num_classes, data.in_channels))
            try:
                distiller = distillers.build(method, params, *pair, data)
                row[f"← {teacher}"] = f"{distiller.extra_parameter_count():,}"
            except ConfigError as exc:
                row[f"← {teacher}"] = f"refuses: {exc}"
        rows.append(row)
    return pd.DataFrame(rows)

"""Which intermediate-layer methods can pair a student with a teacher, and at what connector cost.

Builds each method's distiller for every teacher (nothing trains) and reports the trainable
parameters it adds, or the one-line error with which it refuses the pair.
"""
import pandas as pd
import torch

from .data import Dataset
from .experiment import build_distiller
from .models import build_model

# The configurations compared: each method's defaults, and FitNets across stages of different resolution.
SETTINGS = {
    "FitNets (stage 2 → 2)": ("fitnets", {}),
    "AT (stages 1-3)": ("at", {}),
    "FSP (stage pairs)": ("fsp", {}),
    "AB (stages 1-3)": ("ab", {}),
    "FitNets (student 1 → teacher 2)": ("fitnets", {"guided_layer": 1, "hint_layer": 2}),
    "FitNets (student 2 → teacher 1)": ("fitnets", {"guided_layer": 2, "hint_layer": 1}),
    "FitNets (student 3 → teacher 1)": ("fitnets", {"guided_layer": 3, "hint_layer": 1}),
}


def compatibility(student: str, teachers: list[str], data: Dataset, settings: dict = SETTINGS) -> pd.DataFrame:
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
                distiller = build_distiller(method, params, *pair, data)
                row[f"← {teacher}"] = f"{distiller.extra_parameter_count():,}"
            except ValueError as exc:
                row[f"← {teacher}"] = f"refuses: {exc}"
        rows.append(row)
    return pd.DataFrame(rows)

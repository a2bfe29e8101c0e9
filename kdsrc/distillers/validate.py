"""Checks for method parameters: one clear message naming the parameter and what is allowed."""
import math


def require_positive(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: must be a finite number > 0, got {value!r}")


def require_non_negative(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name}: must be a finite number >= 0, got {value!r}")


def require_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}: must be an integer >= {minimum}, got {value!r}")


def require_stage_indices(name: str, value) -> tuple | str:
    """A non-empty list of stage indices (0 is the stem), returned as a tuple, or ``"all"``."""
    if value == "all":
        return value
    if not value or any(isinstance(i, bool) or not isinstance(i, int) or i < 0 for i in value):
        raise ValueError(f"{name}: must be a non-empty list of stage indices >= 0 or 'all', got {value!r}")
    return tuple(value)


def require_existing_stages(name: str, indices, taps: int) -> None:
    if max(indices) >= taps:
        raise ValueError(f"{name}: stage indices must be in 0..{taps - 1}, got {list(indices)}")


def require_choice(name: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"{name}: must be one of {list(allowed)}, got {value!r}")


def require_bool(name: str, value) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{name}: must be True or False, got {value!r}")


def resolve_stages(name: str, value, student_taps: int, teacher_taps: int) -> tuple:
    """The stage indices ``value`` names: its own, checked to exist in both networks, or for
    ``"all"`` every stage after the stem (RepDistiller's ``feat[1:-1]``), which needs as many
    stages in the student as in the teacher."""
    if value != "all":
        require_existing_stages(name, value, min(student_taps, teacher_taps))
        return tuple(value)
    if student_taps != teacher_taps:
        raise ValueError(f"{name}: 'all' pairs every stage after the stem, but the student has {student_taps - 1} "
                         f"and the teacher {teacher_taps - 1}; give stage indices")
    return tuple(range(1, student_taps))

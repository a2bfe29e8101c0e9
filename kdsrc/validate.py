"""One validation vocabulary for configurations, method parameters and the command line.

Every check raises :class:`ConfigError` (a ``ValueError``) with one line that names the parameter
and says what is allowed.
"""
import math


class ConfigError(ValueError):
    """A parameter outside what is allowed; the message names the parameter."""


def require_choice(name: str, value, allowed) -> None:
    if value not in allowed:
        raise ConfigError(f"{name}: must be one of {sorted(allowed)}, got {value!r}")


def require_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name}: must be an integer >= {minimum}, got {value!r}")


def require_optional_int(name: str, value, minimum: int) -> None:
    if value is not None:
        require_int(name, value, minimum)


def require_number(name: str, value, low: float | None = None, high: float | None = None,
                   low_open: bool = False) -> None:
    """A finite number (not a bool) in ``[low, high]`` (``(low, high]`` when ``low_open``)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (low is None or (value > low if low_open else value >= low)) and (high is None or value <= high)
    if not ok:
        bounds = " and ".join(([f"{'>' if low_open else '>='} {low}"] if low is not None else [])
                              + ([f"<= {high}"] if high is not None else []))
        raise ConfigError(f"{name}: must be a finite number{' ' + bounds if bounds else ''}, got {value!r}")


def require_positive(name: str, value) -> None:
    require_number(name, value, low=0, low_open=True)


def require_non_negative(name: str, value) -> None:
    require_number(name, value, low=0)


def require_bool(name: str, value) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{name}: must be True or False, got {value!r}")


def require_stage_indices(name: str, value) -> tuple | str:
    """A non-empty list of stage indices (0 is the stem), returned as a tuple, or ``"all"``."""
    if value == "all":
        return value
    if not isinstance(value, (list, tuple)) or not value \
            or any(isinstance(i, bool) or not isinstance(i, int) or i < 0 for i in value):
        raise ConfigError(f"{name}: must be a non-empty list of stage indices >= 0 or 'all', got {value!r}")
    return tuple(value)


def require_existing_stages(name: str, indices, taps: int) -> None:
    if max(indices) >= taps:
        raise ConfigError(f"{name}: stage indices must be in 0..{taps - 1}, got {list(indices)}")


def resolve_stages(name: str, value, student_taps: int, teacher_taps: int) -> tuple:
    """The stage indices ``value`` names: its own, checked to exist in both networks, or for
    ``"all"`` every stage after the stem (RepDistiller's ``feat[1:-1]``), which needs as many
    stages in the student as in the teacher."""
    if value != "all":
        require_existing_stages(name, value, min(student_taps, teacher_taps))
        return tuple(value)
    if student_taps != teacher_taps:
        raise ConfigError(f"{name}: 'all' pairs every stage after the stem, but the student has {student_taps - 1} "
                          f"and the teacher {teacher_taps - 1}; give stage indices")
    return tuple(range(1, student_taps))

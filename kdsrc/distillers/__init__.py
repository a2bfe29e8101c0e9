"""The method registry: a plain dict from method name to distiller class."""
from .base import Distiller
from .kd import KD
from .vanilla import Vanilla

METHODS: dict[str, type[Distiller]] = {"vanilla": Vanilla, "kd": KD}

__all__ = ["METHODS", "Distiller"]

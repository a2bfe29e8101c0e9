"""The method registry: a plain dict from method name to distiller class."""
from .at import AT
from .base import Distiller
from .fitnets import FitNets
from .kd import KD
from .vanilla import Vanilla

METHODS: dict[str, type[Distiller]] = {"vanilla": Vanilla, "kd": KD, "fitnets": FitNets, "at": AT}

__all__ = ["METHODS", "Distiller"]

"""The method registry: a plain dict from method name to distiller class."""
from .ab import AB
from .at import AT
from .base import Distiller, Stage
from .fitnets import FitNets
from .fsp import FSP
from .kd import KD
from .vanilla import Vanilla

METHODS: dict[str, type[Distiller]] = {"vanilla": Vanilla, "kd": KD, "fitnets": FitNets, "at": AT,
                                       "fsp": FSP, "ab": AB}

__all__ = ["METHODS", "Distiller", "Stage"]

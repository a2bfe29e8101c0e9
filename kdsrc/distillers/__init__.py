"""The method registry: a plain dict from method name to distiller class."""
from .ab import AB
from .at import AT
from .base import Distiller, Stage
from .ce_binary_kl import CEBinaryKL
from .dhkd import DHKD
from .fitnets import FitNets
from .fsp import FSP
from .kd import KD
from .srrl import SRRL
from .vanilla import Vanilla

METHODS: dict[str, type[Distiller]] = {"vanilla": Vanilla, "kd": KD, "fitnets": FitNets, "at": AT,
                                       "fsp": FSP, "ab": AB, "srrl": SRRL, "dhkd": DHKD,
                                       "ce_binary_kl": CEBinaryKL}

__all__ = ["METHODS", "Distiller", "Stage"]

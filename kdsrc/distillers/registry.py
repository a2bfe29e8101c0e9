"""The method registry: a plain dict from method name to distiller class (one line a method)."""
from .ab import AB
from .at import AT
from .base import Distiller
from .cc import CC
from .crd import CRD
from .crd_kd import CRDKD
from .ce_binary_kl import CEBinaryKL
from .dhkd import DHKD
from .dist import DIST
from .dkd import DKD
from .fitnets import FitNets
from .fsp import FSP
from .ft import FT
from .kd import KD
from .label_smoothing import LabelSmoothing
from .nst import NST
from .pkt import PKT
from .reviewkd import ReviewKD
from .rkd import RKD
from .sp import SP
from .srrl import SRRL
from .standardized_kd import StandardizedKD
from .vanilla import Vanilla
from .vid import VID

METHODS: dict[str, type[Distiller]] = {
    "vanilla": Vanilla,
    "kd": KD,
    "fitnets": FitNets,
    "at": AT,
    "fsp": FSP,
    "ab": AB,
    "srrl": SRRL,
    "dhkd": DHKD,
    "ce_binary_kl": CEBinaryKL,
    "label_smoothing": LabelSmoothing,
    "sp": SP,
    "cc": CC,
    "rkd": RKD,
    "pkt": PKT,
    "nst": NST,
    "vid": VID,
    "ft": FT,
    "crd": CRD,
    "crd_kd": CRDKD,
    "dkd": DKD,
    "dist": DIST,
    "standardized_kd": StandardizedKD,
    "reviewkd": ReviewKD,
}
# The method that trains a network on its own (every teacher, and the student-alone baseline),
# and vanilla KD, the distiller the speed benchmarks measure.
ALONE = "vanilla"
KD_METHOD = "kd"

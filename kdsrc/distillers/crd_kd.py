"""CRD+KD (Tian, Krishnan & Isola, ICLR 2020, Tables 1-2's last row): CRD with vanilla KD's term
added at weight 1 and T = 4 (RepDistiller's ``--distill crd -a 1 -b 0.8``)."""
from dataclasses import dataclass

from .crd import CRD, CRDConfig


@dataclass(frozen=True)
class CRDKDConfig(CRDConfig):
    kd_weight: float = 1.0


class CRDKD(CRD):
    """CRD plus KD's soft-target term."""

    Config = CRDKDConfig

"""The methods: one file a method, a registry (:data:`METHODS`) and one way to build them (:func:`build`)."""
from .base import DataSummary, Distiller
from .build import build, example_summary, summarise
from .registry import ALONE, KD_METHOD, METHODS

__all__ = ["METHODS", "ALONE", "KD_METHOD", "DataSummary", "Distiller", "build", "example_summary", "summarise"]

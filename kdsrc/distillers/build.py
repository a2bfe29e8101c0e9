"""The one way to construct a distiller: runs, benchmarks, the compatibility table and the
reproduce plan all call :func:`build`."""
import dataclasses

import torch
from torch import nn

from ..data import Dataset, to_model_input
from ..validate import ConfigError
from .base import DataSummary, Distiller
from .registry import METHODS


def summarise(data: Dataset) -> DataSummary:
    """What a distiller's constructor is told of ``data``: its sizes and two training images."""
    return DataSummary(len(data.train), data.num_classes, to_model_input(data.train.images[:2], data.mean, data.std),
                       data.train.labels)


def build(method: str, params, student: nn.Module, teacher: nn.Module | None, data: Dataset | DataSummary,
          processes: int = 1) -> Distiller:
    """``method``'s distiller for ``student`` and ``teacher`` with parameters ``params`` (a mapping
    of its ``Config``'s fields), told of ``data`` (a dataset, summarised, or its summary), and
    checked against what the method declares: a method that back-propagates its losses apart
    (:attr:`~kdsrc.distillers.Distiller.separate_backward`) refuses ``processes`` > 1. A
    :class:`~kdsrc.validate.ConfigError` names a bad parameter or an impossible pair."""
    if method not in METHODS:
        raise ConfigError(f"method: must be one of {sorted(METHODS)}, got {method!r}")
    cls = METHODS[method]
    summary = data if isinstance(data, DataSummary) else summarise(data)
    try:
        distiller = cls(student, teacher if cls.needs_teacher else None, cls.Config(**params), summary)
    except TypeError:
        allowed = [f.name for f in dataclasses.fields(cls.Config)]
        raise ConfigError(f"method_params: method {method!r} takes {allowed}, got {sorted(params)}") from None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    option = distiller.separate_backward
    if processes > 1 and option is not None:
        raise ConfigError(f"{option}: back-propagates each loss on its own, which DistributedDataParallel "
                          "does not average; set it to False or train in one process (without torchrun)")
    return distiller


def example_summary(num_classes: int = 100, images: int = 50_000, in_channels: int = 3, size: int = 32) -> DataSummary:
    """A summary for building distillers without data (a plan's checks): random normalised
    images of the given shape, seeded, and balanced labels."""
    example = torch.randn(2, in_channels, size, size, generator=torch.Generator().manual_seed(0))
    return DataSummary(images, num_classes, example, torch.arange(images) % num_classes)

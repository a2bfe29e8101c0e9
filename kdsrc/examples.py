"""Small fixed inputs on which the chapters evaluate the losses they teach.

The tensors are float64 uniform draws from a seeded CPU generator, which give the same numbers on
every machine (x86 or ARM, any thread count); a loss evaluated on them and printed to six
significant digits is an exact regression check of its formula wherever the book is tested.
"""
import torch


def _uniform(*shape: int, seed: int, low: float, high: float) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=generator, dtype=torch.float64) * (high - low) + low


def logits(batch: int = 4, classes: int = 10, seed: int = 0, scale: float = 5.0) -> torch.Tensor:
    """``[batch, classes]`` logits, uniform in ``[-scale, scale]``."""
    return _uniform(batch, classes, seed=seed, low=-scale, high=scale)


def labels(batch: int = 4, classes: int = 10, seed: int = 0) -> torch.Tensor:
    """``[batch]`` class indices."""
    return (_uniform(batch, seed=seed, low=0, high=classes).floor().long()).clamp(max=classes - 1)


def feature_map(batch: int = 4, channels: int = 8, size: int = 4, seed: int = 0) -> torch.Tensor:
    """``[batch, channels, size, size]`` activations, uniform in ``[-1, 1]`` (pre-activations
    take both signs, as a ReLU network's do before the ReLU)."""
    return _uniform(batch, channels, size, size, seed=seed, low=-1.0, high=1.0)

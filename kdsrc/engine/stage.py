"""What the trainer hands a method: the step context, and the stages a method trains in."""
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn


@dataclass(frozen=True)
class Step:
    """The context of one training step, owned by the trainer (:func:`kdsrc.engine.fit`).

    ``epoch`` (0-based) of ``epochs`` and ``index`` (0-based) of ``steps`` in the epoch;
    ``indices``: the dataset indices of this process's images of the batch (before any mixing:
    a mixed image is named by its first source), its shard of ``batch_indices``, those of the
    whole global batch (every process's, in order); ``cache_rows``: their rows in a teacher's view
    cache (:mod:`kdsrc.teachers`), None when the batch is mixed and so no cached view;
    ``generator``: the trainer's seeded generator, whose state the checkpoint keeps, for anything
    a method draws at random (negatives, masks), so that a resumed run draws what an
    uninterrupted one does.
    """

    epoch: int
    epochs: int
    index: int
    steps: int
    indices: torch.Tensor
    batch_indices: torch.Tensor
    cache_rows: torch.Tensor | None
    generator: torch.Generator

    @property
    def progress(self) -> float:
        """How much of the stage's training is done before this step, in [0, 1)."""
        return (self.epoch * self.steps + self.index) / (self.epochs * self.steps)


def backward_sum(losses: dict[str, torch.Tensor]) -> None:
    """One backward pass of the sum of a step's losses (what most stages do)."""
    sum(losses.values()).backward()


@dataclass
class Stage:
    """A stretch of training: ``epochs`` epochs optimising the parameters of ``modules`` (in train
    mode; everything else of the distiller in eval mode) on ``loss(x, y, step) -> (logits or
    None, {name: loss})``, the trainer summing the dict.

    ``scheduled``: the learning rate follows the run's schedule (the main training), else it
    stays constant: at ``lr`` when given, else the run's base rate (RepDistiller's ``init``
    stage of FSP and AB; FT's paraphraser at its own rate). ``backward`` turns a
    step's losses into gradients and may return measurements the trainer averages over the
    epoch (:meth:`kdsrc.distillers.Distiller.backward`). The stage that returns logits is the
    one whose training accuracy is recorded.
    """

    name: str
    epochs: int
    modules: list[nn.Module]
    loss: Callable[[torch.Tensor, torch.Tensor, Step], tuple[torch.Tensor | None, dict[str, torch.Tensor]]]
    scheduled: bool = False
    lr: float | None = None
    backward: Callable[[dict[str, torch.Tensor]], dict[str, float] | None] = field(default=backward_sum)

    def parameters(self) -> list[nn.Parameter]:
        """The trainable parameters of the stage's modules, each once, in module order."""
        return list({id(p): p for m in self.modules for p in m.parameters() if p.requires_grad}.values())

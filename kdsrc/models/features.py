"""The features every model exposes beside its logits."""
from dataclasses import dataclass

import torch


@dataclass
class Features:
    """Stage features of one forward pass, in RepDistiller's tap order.

    ``stages[0]`` is the stem output and ``stages[1:]`` the outputs of the residual stages;
    ``preacts`` holds, for the same taps, what the following ReLU sees (the pre-activation the
    activation-boundary method matches); ``pooled`` is the penultimate vector the classifier reads.
    """

    logits: torch.Tensor
    stages: list[torch.Tensor]
    preacts: list[torch.Tensor]
    pooled: torch.Tensor

"""A teacher made of several trained networks (Hinton, Vinyals & Dean 2015: distil an ensemble into
one small model; Sec. 2 takes an arithmetic or a geometric mean of the members' predictive
distributions as the soft targets).

The ensemble answers like one network, so every logit-based method takes it as its teacher:

- ``logits`` (default): the mean of the members' logits. Softened at any temperature T it gives
  the normalised *geometric* mean of the members' softened distributions ``softmax(z_i / T)``;
- ``probs``: their *arithmetic* mean, ``mean_i softmax(z_i / T)`` at the distilling method's
  temperature T, returned as the logits ``T * log(mean_i softmax(z_i / T))`` so that the
  method's own ``softmax(logits / T)`` gives back exactly that mean (at T = 1: the mean of the
  plain probabilities).

It has no single feature map, so the feature-based methods refuse it with a clear error.
"""
import math

import torch
from torch import nn

ENSEMBLE_MODES = ("logits", "probs")


class TeacherEnsemble(nn.Module):
    """Frozen members combined into one teacher's logits."""

    def __init__(self, members: list[nn.Module], mode: str = "logits", temperature: float = 1.0):
        super().__init__()
        if not members:
            raise ValueError("teacher: an ensemble needs at least one member, got none")
        if mode not in ENSEMBLE_MODES:
            raise ValueError(f"ensemble: must be one of {list(ENSEMBLE_MODES)}, got {mode!r}")
        classes = [member.fc.out_features for member in members]
        if len(set(classes)) > 1:
            raise ValueError(f"teacher: the ensemble's members disagree on the number of classes: {classes}")
        if not temperature > 0:
            raise ValueError(f"temperature: the ensemble's temperature must be > 0, got {temperature!r}")
        self.members = nn.ModuleList(members)
        self.mode = mode
        self.temperature = float(temperature)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.combine(torch.stack([member(x) for member in self.members]))

    def combine(self, logits: torch.Tensor) -> torch.Tensor:
        """The ensemble's logits from its members' logits stacked on the first dimension (so a
        cache of the ensemble's outputs is the combination of its members' caches)."""
        if self.mode == "logits":
            return logits.mean(0)
        t = self.temperature
        return t * (torch.logsumexp(torch.log_softmax(logits / t, dim=-1), dim=0) - math.log(len(logits)))

    def forward_features(self, x: torch.Tensor):
        raise ValueError("teacher: an ensemble has no single feature map; distil it with a logit-based method "
                         "(kd, dhkd, ce_binary_kl)")

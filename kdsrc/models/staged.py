"""The shape shared by the CIFAR ResNets, the CIFAR ResNet50, the ShuffleNets and MobileNetV2: a stem
(``conv1``, ``bn1``, ReLU), stages whose last block exposes ``forward_preact`` (its output before the
final ReLU, RepDistiller's ``preact``; a model whose stages end linearly says otherwise), an
optional ``head`` before global average pooling, and ``fc``."""
import torch
from torch import nn
import torch.nn.functional as F

from .features import Features


class StagedNetwork(nn.Module):
    """Subclasses set ``conv1``, ``bn1``, ``stages`` (a ModuleList of Sequentials), ``head`` and ``fc``."""

    def stage_modules(self) -> list[nn.Module]:
        """The modules that compute each stage feature from the previous one (index 0: the stem);
        a head reads the last stage and feeds only the classifier, so it belongs to no stage."""
        return [nn.ModuleList([self.conv1, self.bn1]), *self.stages]

    def _stage_with_preact(self, stage: nn.Sequential, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A stage's output and its pre-activation: its last block's sum before the final ReLU."""
        pre = stage[-1].forward_preact(stage[:-1](x))
        return F.relu(pre), pre

    def _pooled(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(F.adaptive_avg_pool2d(self.head(x), 1), 1)

    def forward_features(self, x: torch.Tensor) -> Features:
        stem_pre = self.bn1(self.conv1(x))
        x = F.relu(stem_pre)
        stages, preacts = [x], [stem_pre]
        for stage in self.stages:
            x, pre = self._stage_with_preact(stage, x)
            stages.append(x)
            preacts.append(pre)
        pooled = self._pooled(x)
        return Features(self.fc(pooled), stages, preacts, pooled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        for stage in self.stages:
            x = stage(x)
        return self.fc(self._pooled(x))

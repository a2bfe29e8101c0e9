"""Model zoo: a plain dict from name to constructor; every model has ``forward_features``."""
from functools import partial

from torch import nn

from ..validate import require_choice
from .features import Features
from .mobilenetv2 import MobileNetV2
from .resnet import RESNETS, CifarResNet
from .resnet50 import ResNet50
from .shufflenet import ShuffleNetV1, ShuffleNetV2
from .vgg import VGGS, VGG
from .wrn import WRNS, WideResNet

MODELS = {name: partial(CifarResNet, depth, widths) for name, (depth, widths) in RESNETS.items()}
MODELS |= {name: partial(WideResNet, depth, widen) for name, (depth, widen) in WRNS.items()}
MODELS |= {name: partial(VGG, convs) for name, convs in VGGS.items()}
MODELS |= {"MobileNetV2": MobileNetV2, "ShuffleV1": ShuffleNetV1, "ShuffleV2": ShuffleNetV2, "ResNet50": ResNet50}


def build_model(name: str, num_classes: int, in_channels: int = 3) -> nn.Module:
    """Build a model of the zoo by name (RepDistiller's names)."""
    require_choice("model", name, MODELS)
    return MODELS[name](num_classes=num_classes, in_channels=in_channels)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = ["MODELS", "Features", "build_model", "count_parameters"]

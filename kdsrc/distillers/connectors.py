"""Trainable modules that map a student's feature map onto a teacher's."""
from torch import nn

from ..validate import ConfigError


def conv_regressor(student_shape, teacher_shape, relu: bool = True, parameter: str = "hint_layer") -> nn.Sequential:
    """RepDistiller's ``ConvReg`` (models/util.py), the FitNets regressor as the CRD benchmark builds it.

    A conv chosen by the spatial sizes (3x3 stride 2 when the student map is twice as large, a 4x4
    stride-2 transposed conv when half as large, otherwise a valid conv of kernel
    ``1 + H_s - H_t``, i.e. 1x1 for equal sizes), then BN and, by default, ReLU: the hint layer's
    own non-linearity, as FitNets asks of its regressor. An impossible pair of sizes is an error
    naming ``parameter``, the method parameter that chose the maps.
    """
    (_, s_c, s_h, s_w), (_, t_c, t_h, t_w) = student_shape, teacher_shape
    if s_h == 2 * t_h:
        conv = nn.Conv2d(s_c, t_c, 3, stride=2, padding=1)
    elif 2 * s_h == t_h:
        conv = nn.ConvTranspose2d(s_c, t_c, 4, stride=2, padding=1)
    elif s_h >= t_h:
        conv = nn.Conv2d(s_c, t_c, (1 + s_h - t_h, 1 + s_w - t_w))
    else:
        raise ConfigError(f"{parameter}: the guided student map of {s_h}x{s_w} cannot be regressed onto the teacher map "
                         f"of {t_h}x{t_w} (the student map must be at least as large, or half as large)")
    layers = [conv, nn.BatchNorm2d(t_c)] + ([nn.ReLU(inplace=True)] if relu else [])
    return nn.Sequential(*layers)


def _conv1x1_bn(student_channels: int, teacher_channels: int) -> list[nn.Module]:
    """A 1x1 conv without bias, initialised N(0, 2/(k*k*out)) as both official codes do, and BN."""
    conv = nn.Conv2d(student_channels, teacher_channels, 1, bias=False)
    nn.init.normal_(conv.weight, 0.0, (2.0 / teacher_channels) ** 0.5)
    return [conv, nn.BatchNorm2d(teacher_channels)]


def ab_connector(student_channels: int, teacher_channels: int) -> nn.Module:
    """The activation-boundary connector of the official code (bhheo/AB_distillation): nothing when
    the channel counts agree, else a 1x1 conv without bias and BN."""
    if student_channels == teacher_channels:
        return nn.Identity()
    return nn.Sequential(*_conv1x1_bn(student_channels, teacher_channels))


def srrl_connector(student_channels: int, teacher_channels: int) -> nn.Sequential:
    """SRRL's connector as the official code builds it (KD_SRRL ``transfer_conv``): a 1x1 conv
    without bias, BN and ReLU; always present, even when the channel counts agree."""
    return nn.Sequential(*_conv1x1_bn(student_channels, teacher_channels), nn.ReLU(inplace=True))

"""FitNets and attention-transfer distillers: connectors, trainable parameters, frozen teacher, bad input."""
import pytest
import torch

from kdsrc import experiment
from kdsrc.distillers import METHODS
from kdsrc.distillers.at import ATConfig
from kdsrc.distillers.connectors import conv_regressor
from kdsrc.distillers.fitnets import FitNetsConfig
from kdsrc.models import build_model
from kdsrc.train import fit

EXAMPLE = torch.randn(2, 1, 28, 28)


def _pair():
    torch.manual_seed(0)
    return build_model("resnet8", 10, 1), build_model("resnet14", 10, 1)


@pytest.mark.parametrize("s_size, t_size, kind", [(16, 8, torch.nn.Conv2d), (8, 16, torch.nn.ConvTranspose2d),
                                                   (8, 8, torch.nn.Conv2d), (10, 8, torch.nn.Conv2d)])
def test_conv_regressor_maps_the_student_map_onto_the_teacher_shape(s_size, t_size, kind):
    regressor = conv_regressor((2, 4, s_size, s_size), (2, 6, t_size, t_size))
    assert type(regressor[0]) is kind
    assert regressor(torch.randn(2, 4, s_size, s_size)).shape == (2, 6, t_size, t_size)


def test_conv_regressor_refuses_a_student_map_smaller_than_half_the_teacher_map():
    with pytest.raises(ValueError, match="^hint_layer:"):
        conv_regressor((2, 4, 4, 4), (2, 6, 16, 16))


def test_fitnets_regressor_is_trainable_and_counted_as_extra_parameters():
    student, teacher = _pair()
    fitnets = METHODS["fitnets"](student, teacher, FitNetsConfig(), example=EXAMPLE)
    regressor = sum(p.numel() for p in fitnets.regressor.parameters())
    assert regressor > 0 and fitnets.extra_parameter_count() == regressor
    assert not any(p is q for p in fitnets.trainable_parameters() for q in teacher.parameters())


def test_fitnets_losses_are_weighted_ce_and_hint():
    student, teacher = _pair()
    x, y = torch.randn(4, 1, 28, 28), torch.randint(10, (4,))
    logits, losses = METHODS["fitnets"](student, teacher, FitNetsConfig(hint_weight=0.0), example=EXAMPLE).forward_train(x, y)
    assert set(losses) == {"ce", "hint"} and losses["hint"] == 0 and logits.shape == (4, 10)


def test_at_adds_no_parameters_and_returns_ce_and_at_terms():
    student, teacher = _pair()
    at = METHODS["at"](student, teacher, ATConfig(), example=EXAMPLE)
    _, losses = at.forward_train(torch.randn(4, 1, 28, 28), torch.randint(10, (4,)))
    assert at.extra_parameter_count() == 0 and set(losses) == {"ce", "at"} and losses["at"] > 0


@pytest.mark.parametrize("method, config, name", [("fitnets", FitNetsConfig(hint_layer=4), "hint_layer"),
                                                  ("at", ATConfig(layers=(1, 4)), "layers")])
def test_a_stage_that_does_not_exist_is_rejected_by_name(method, config, name):
    student, teacher = _pair()
    with pytest.raises(ValueError, match=f"^{name}:"):
        METHODS[method](student, teacher, config, example=EXAMPLE)


def test_building_a_distiller_leaves_the_student_batchnorm_statistics_alone():
    student, teacher = _pair()
    before = student.bn1.running_mean.clone()
    METHODS["fitnets"](student, teacher, FitNetsConfig(), example=EXAMPLE)
    assert torch.equal(student.bn1.running_mean, before) and student.training


@pytest.mark.parametrize("method", ["fitnets", "at"])
def test_training_changes_the_student_but_never_the_teacher(tiny_config, method):
    cfg = tiny_config(method)
    data = experiment.dataset_for(cfg)
    student, teacher = _pair()
    distiller = METHODS[method](student, teacher, METHODS[method].Config(), example=EXAMPLE)
    teacher_before = {k: v.clone() for k, v in teacher.state_dict().items()}
    student_before = {k: v.clone() for k, v in student.state_dict().items()}
    fit(distiller, data, cfg)
    assert all(torch.equal(teacher_before[k], v) for k, v in teacher.state_dict().items())
    assert not all(torch.equal(student_before[k], v) for k, v in student.state_dict().items())

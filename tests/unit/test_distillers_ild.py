"""FitNets and attention-transfer distillers: connectors, trainable parameters, frozen teacher, bad input."""
import pytest
import torch

from kdsrc import experiment
from kdsrc.distillers import METHODS, DataSummary
from kdsrc.distillers.at import ATConfig
from kdsrc.distillers.connectors import conv_regressor
from kdsrc.distillers.fitnets import FitNetsConfig
from kdsrc.losses import kd_loss
from kdsrc.models import build_model
from kdsrc.engine import fit

EXAMPLE = DataSummary(100, 10, torch.randn(2, 1, 28, 28))  # what distillers are told of the data


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
    fitnets = METHODS["fitnets"](student, teacher, FitNetsConfig(), data=EXAMPLE)
    regressor = sum(p.numel() for p in fitnets.regressor.parameters())
    assert regressor > 0 and fitnets.extra_parameter_count() == regressor
    assert not any(p is q for p in fitnets.trainable_parameters() for q in teacher.parameters())


def test_fitnets_losses_are_weighted_ce_and_hint():
    student, teacher = _pair()
    x, y = torch.randn(4, 1, 28, 28), torch.randint(10, (4,))
    fitnets = METHODS["fitnets"](student, teacher, FitNetsConfig(hint_weight=2.0, ce_weight=0.5), data=EXAMPLE)
    logits, losses = fitnets.forward_train(x, y)
    features = student.forward_features(x)
    hint = teacher.eval().forward_features(x).stages[2]
    expected_hint = 2.0 * torch.mean((fitnets.regressor(features.stages[2]) - hint) ** 2)
    assert set(losses) == {"ce", "hint"} and logits.shape == (4, 10)
    assert torch.allclose(losses["hint"], expected_hint, rtol=1e-5)
    assert torch.allclose(losses["ce"], 0.5 * torch.nn.functional.cross_entropy(logits, y))


def test_fitnets_paper_second_stage_is_kd_without_the_hint_term():
    student, teacher = _pair()
    x, y = torch.randn(4, 1, 28, 28), torch.randint(10, (4,))
    config = FitNetsConfig(hint_weight=0.0, kd_weight=0.9, ce_weight=0.1, temperature=4.0, init_epochs=1)
    logits, losses = METHODS["fitnets"](student, teacher, config, data=EXAMPLE).forward_train(x, y)
    assert set(losses) == {"ce", "kd"}
    assert torch.allclose(losses["kd"], 0.9 * kd_loss(logits, teacher(x), 4.0), rtol=1e-5)


def test_fitnets_first_stage_trains_the_student_up_to_the_guided_layer_and_the_regressor():
    student, teacher = _pair()
    assert METHODS["fitnets"](student, teacher, FitNetsConfig(), data=EXAMPLE).first_stage() is None
    fitnets = METHODS["fitnets"](student, teacher, FitNetsConfig(hint_layer=2, guided_layer=1, init_epochs=2),
                                 data=EXAMPLE)
    stage = fitnets.first_stage()
    trained = {id(p) for m in stage.modules for p in m.parameters()}
    expected = [student.conv1, student.bn1, student.stages[0], fitnets.regressor]
    assert trained == {id(p) for m in expected for p in m.parameters()}
    assert stage.epochs == 2 and set(stage.loss(torch.randn(4, 1, 28, 28), None, None)[1]) == {"hint"}


def test_fitnets_guided_layer_may_differ_from_the_hint_layer_and_the_regressor_resizes():
    student, teacher = _pair()
    fitnets = METHODS["fitnets"](student, teacher, FitNetsConfig(hint_layer=3, guided_layer=2), data=EXAMPLE)
    assert isinstance(fitnets.regressor[0], torch.nn.Conv2d) and fitnets.regressor[0].stride == (2, 2)
    _, losses = fitnets.forward_train(torch.randn(4, 1, 28, 28), torch.randint(10, (4,)))
    assert losses["hint"] > 0


def test_at_adds_no_parameters_and_returns_ce_and_at_terms():
    student, teacher = _pair()
    at = METHODS["at"](student, teacher, ATConfig(), data=EXAMPLE)
    _, losses = at.forward_train(torch.randn(4, 1, 28, 28), torch.randint(10, (4,)))
    assert at.extra_parameter_count() == 0 and set(losses) == {"ce", "at"} and losses["at"] > 0


@pytest.mark.parametrize("method, config, name", [("fitnets", FitNetsConfig(hint_layer=4), "hint_layer"),
                                                  ("fitnets", FitNetsConfig(guided_layer=5), "guided_layer"),
                                                  ("at", ATConfig(layers=(1, 4)), "layers")])
def test_a_stage_that_does_not_exist_is_rejected_by_name(method, config, name):
    student, teacher = _pair()
    with pytest.raises(ValueError, match=f"^{name}:"):
        METHODS[method](student, teacher, config, data=EXAMPLE)


def test_building_a_distiller_leaves_the_student_batchnorm_statistics_alone():
    student, teacher = _pair()
    before = student.bn1.running_mean.clone()
    METHODS["fitnets"](student, teacher, FitNetsConfig(), data=EXAMPLE)
    assert torch.equal(student.bn1.running_mean, before) and student.training


@pytest.mark.parametrize("method", ["fitnets", "at"])
def test_training_changes_the_student_but_never_the_teacher(tiny_config, method):
    cfg = tiny_config(method)
    data = experiment.dataset_for(cfg)
    student, teacher = _pair()
    distiller = METHODS[method](student, teacher, METHODS[method].Config(), data=EXAMPLE)
    teacher_before = {k: v.clone() for k, v in teacher.state_dict().items()}
    student_before = {k: v.clone() for k, v in student.state_dict().items()}
    fit(distiller, data, cfg)
    assert all(torch.equal(teacher_before[k], v) for k, v in teacher.state_dict().items())
    assert not all(torch.equal(student_before[k], v) for k, v in student.state_dict().items())

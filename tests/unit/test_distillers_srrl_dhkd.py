"""SRRL, DHKD and the single-head CE + BinaryKL: heads, connectors, where each loss's gradient
goes, gradient alignment and measurement, a frozen teacher, and bad input."""
import pytest
import torch

from kdsrc import experiment
from kdsrc.distillers import METHODS, DataSummary, gradients
from kdsrc.distillers.ce_binary_kl import CEBinaryKLConfig
from kdsrc.distillers.dhkd import DHKDConfig
from kdsrc.distillers.srrl import SRRLConfig
from kdsrc.models import Features, build_model
from kdsrc.engine import fit

EXAMPLE = DataSummary(100, 10, torch.randn(2, 1, 28, 28))  # what distillers are told of the data


def _pair(student="resnet8", teacher="resnet14"):
    torch.manual_seed(0)
    return build_model(student, 10, 1), build_model(teacher, 10, 1)


def _batch():
    torch.manual_seed(1)
    return torch.randn(6, 1, 28, 28), torch.randint(10, (6,))


def _grads_of(distiller, loss):
    distiller.zero_grad(set_to_none=True)
    loss.backward(retain_graph=True)
    return {n: (p.grad.clone() if p.grad is not None else None) for n, p in distiller.named_trainable_parameters()}


def test_srrl_connector_is_always_there_and_counted():
    same = METHODS["srrl"](*_pair(), SRRLConfig(), data=EXAMPLE)
    assert same.extra_parameter_count() == 64 * 64 + 2 * 64  # 1x1 conv without bias + BN, even for 64 -> 64
    wider = METHODS["srrl"](*_pair("resnet8", "resnet8x4"), SRRLConfig(), data=EXAMPLE)
    assert wider.extra_parameter_count() == 64 * 256 + 2 * 256


class _ProjectedTeacher(torch.nn.Module):
    """A teacher whose classifier reads a projection of its pooled last map (32 features), not the
    map itself (64 channels), as some architectures' heads do."""

    def __init__(self):
        super().__init__()
        self.body, self.projection, self.fc = build_model("resnet14", 10, 1), torch.nn.Linear(64, 32), torch.nn.Linear(32, 10)

    def forward_features(self, x):
        features = self.body.forward_features(x)
        pooled = self.projection(features.pooled)
        return Features(self.fc(pooled), features.stages, features.preacts, pooled)


def test_srrl_refuses_a_teacher_whose_classifier_the_connector_cannot_feed():
    student, _ = _pair()
    with pytest.raises(ValueError, match="^teacher: .*64 channels.*32 features"):
        METHODS["srrl"](student, _ProjectedTeacher(), SRRLConfig(), data=EXAMPLE)


def test_srrl_feature_losses_never_reach_the_students_classifier_or_the_teacher():
    student, teacher = _pair()
    srrl = METHODS["srrl"](student, teacher, SRRLConfig(), data=EXAMPLE)
    x, y = _batch()
    logits, losses = srrl.forward_train(x, y)
    assert set(losses) == {"ce", "fm", "sr"} and logits.shape == (6, 10)
    grads = _grads_of(srrl, losses["fm"] + losses["sr"])
    assert grads["student.fc.weight"] is None or grads["student.fc.weight"].abs().sum() == 0
    assert grads["connector.0.weight"].abs().sum() > 0 and grads["student.conv1.weight"].abs().sum() > 0
    assert all(p.grad is None for p in teacher.parameters())


def test_dhkd_heads_each_get_only_their_own_loss_and_the_original_head_is_used_at_test_time():
    student, teacher = _pair()
    dhkd = METHODS["dhkd"](student, teacher, DHKDConfig(), data=EXAMPLE)
    x, y = _batch()
    _, losses = dhkd.forward_train(x, y)
    ce, kd = _grads_of(dhkd, losses["ce"]), _grads_of(dhkd, losses["kd"])
    assert ce["aux_head.weight"] is None and kd["student.fc.weight"] is None
    assert ce["student.fc.weight"].abs().sum() > 0 and kd["aux_head.weight"].abs().sum() > 0
    assert kd["student.conv1.weight"].abs().sum() > 0  # the backbone hears both
    dhkd.eval()
    assert torch.equal(dhkd(x), student(x))
    assert dhkd.extra_parameter_count() == 64 * 10 + 10


def test_dhkd_nonlinear_head_is_the_official_classifier():
    dhkd = METHODS["dhkd"](*_pair(), DHKDConfig(aux_head="nonlinear"), data=EXAMPLE)
    kinds = [type(m).__name__ for m in dhkd.aux_head]
    assert kinds == ["Linear", "Dropout", "BatchNorm1d", "ReLU", "Linear"] and dhkd.aux_head[0].out_features == 200


def test_combine_without_alignment_equals_one_backward_of_the_sum():
    student, teacher = _pair()
    dhkd = METHODS["ce_binary_kl"](student, teacher, CEBinaryKLConfig(), data=EXAMPLE)
    x, y = _batch()
    _, losses = dhkd.forward_train(x, y)
    expected = _grads_of(dhkd, losses["ce"] + losses["kd"])
    dhkd.zero_grad(set_to_none=True)
    measured = gradients.combine(dhkd.named_trainable_parameters(), losses["ce"], losses["kd"],
                                 classifier_prefix="student.fc.", backbone_prefix="student.")
    for name, p in dhkd.named_trainable_parameters():
        assert torch.allclose(p.grad, expected[name], atol=1e-6), name
    assert set(measured) == {"cos_classifier", "cos_backbone"} and all(-1 <= v <= 1 for v in measured.values())


def test_alignment_projects_a_conflicting_distillation_gradient_and_leaves_ce_alone():
    w = torch.nn.Parameter(torch.zeros(2))
    ce = (w * torch.tensor([1.0, 0.0])).sum()  # gradient (1, 0)
    distill = (w * torch.tensor([-1.0, 1.0])).sum()  # gradient (-1, 1): conflicts
    out = gradients.combine([("student.fc.weight", w)], ce, distill, "student.fc.", "student.", align=True)
    assert out["aligned"] == 1.0 and torch.allclose(w.grad, torch.tensor([1.0, 1.0]))  # (1,0) + (0,1)
    ce = (w * torch.tensor([1.0, 0.0])).sum()
    agreeing = (w * torch.tensor([1.0, 1.0])).sum()
    out = gradients.combine([("student.fc.weight", w)], ce, agreeing, "student.fc.", "student.", align=True)
    assert out["aligned"] == 0.0 and torch.allclose(w.grad, torch.tensor([2.0, 1.0]))


def test_measured_gradient_cosines_land_in_the_epoch_history(tiny_config):
    cfg = tiny_config("ce_binary_kl", measure_gradients=True)
    data = experiment.dataset_for(cfg)
    student, teacher = _pair()
    distiller = METHODS["ce_binary_kl"](student, teacher, CEBinaryKLConfig(measure_gradients=True), data=EXAMPLE)
    history = fit(distiller, data, cfg)
    assert set(history[-1]["measurements"]) == {"cos_classifier", "cos_backbone"}
    assert "measurements" not in fit(METHODS["vanilla"](_pair()[0]), data, tiny_config("vanilla"))[-1]


@pytest.mark.parametrize("method, config", [("srrl", SRRLConfig()), ("dhkd", DHKDConfig(grad_align=True)),
                                            ("ce_binary_kl", CEBinaryKLConfig())])
def test_training_changes_the_student_but_never_the_teacher(tiny_config, method, config):
    cfg = tiny_config(method)
    student, teacher = _pair()
    distiller = METHODS[method](student, teacher, config, data=EXAMPLE)
    teacher_before = {k: v.clone() for k, v in teacher.state_dict().items()}
    student_before = student.conv1.weight.clone()
    fit(distiller, experiment.dataset_for(cfg), cfg)
    assert all(torch.equal(teacher_before[k], v) for k, v in teacher.state_dict().items())
    assert not torch.equal(student_before, student.conv1.weight)


@pytest.mark.parametrize("config, name", [(lambda: DHKDConfig(aux_head="mlp"), "aux_head"),
                                          (lambda: DHKDConfig(grad_align="yes"), "grad_align"),
                                          (lambda: SRRLConfig(form="kl"), "form"),
                                          (lambda: SRRLConfig(sr_weight=-1.0), "sr_weight"),
                                          (lambda: CEBinaryKLConfig(temperature=0.0), "temperature")])
def test_bad_parameters_are_named(config, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        config()

"""Distillers: a frozen teacher, KD's weighted loss terms, and the teacher-logit view cache."""
import copy

import pytest
import torch
import torch.nn.functional as F

from kdsrc import augment
from kdsrc.data import STATS, Dataset, Split, to_model_input
from kdsrc.distillers import METHODS
from kdsrc.distillers.kd import KD, KDConfig
from kdsrc.losses import kd_loss
from kdsrc.models import build_model
from kdsrc.teachers import build_logit_cache
from kdsrc.engine import Step, fit

MEAN, STD = STATS["fashion_mnist"]


def _split(n, seed):
    g = torch.Generator().manual_seed(seed)
    return Split(torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=g),
                 torch.randint(0, 10, (n,), generator=g))


@pytest.fixture
def data():
    return Dataset("fashion_mnist", _split(48, 0), _split(16, 1), None, 10, MEAN, STD)


@pytest.fixture
def kd():
    torch.manual_seed(0)
    return KD(build_model("resnet8", 10, 1), build_model("resnet14", 10, 1))


def _batch(n=8):
    g = torch.Generator().manual_seed(5)
    return torch.randn(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)


def test_teacher_stays_in_eval_mode_when_distiller_trains(kd):
    kd.train()
    assert kd.student.training and not kd.teacher.training
    assert not any(m.training for m in kd.teacher.modules())


def test_teacher_is_frozen_and_not_among_trainable_parameters(kd):
    assert not any(p.requires_grad for p in kd.teacher.parameters())
    trainable = {id(p) for p in kd.trainable_parameters()}
    assert trainable == {id(p) for p in kd.student.parameters()}
    assert kd.extra_parameter_count() == 0


def test_trainable_state_leaves_the_teacher_out(kd):
    state = kd.trainable_state()
    assert state and not any(k.startswith("teacher.") for k in state)
    assert set(state) == {f"student.{k}" for k in kd.student.state_dict()}


def test_teacher_weights_and_bn_statistics_do_not_move_during_kd_training(kd, data, tiny_config):
    teacher_before = copy.deepcopy(kd.teacher.state_dict())
    student_before = copy.deepcopy(kd.student.state_dict())
    cfg = tiny_config("kd", epochs=1, batch_size=16, lr=0.1, channels_last=False, precision="fp32")
    fit(kd, data, cfg)
    for name, value in kd.teacher.state_dict().items():
        assert torch.equal(value, teacher_before[name]), name
    moved = [n for n, v in kd.student.state_dict().items() if not torch.equal(v, student_before[n])]
    assert any("running_mean" in n for n in moved) and any("weight" in n for n in moved)


def test_kd_loss_terms_carry_the_configured_weights(kd):
    kd.config = KDConfig(temperature=2.0, ce_weight=0.3, kd_weight=0.7)
    kd.eval()
    x, y = _batch()
    logits, losses = kd.forward_train(x, y)
    assert set(losses) == {"ce", "kd"}
    with torch.no_grad():
        student, teacher = kd.student(x), kd.teacher(x)
    torch.testing.assert_close(logits, student)
    torch.testing.assert_close(losses["ce"], 0.3 * F.cross_entropy(student, y))
    torch.testing.assert_close(losses["kd"], 0.7 * kd_loss(student, teacher, 2.0))


def test_kd_weight_zero_gives_a_zero_kd_term(kd):
    kd.config = KDConfig(kd_weight=0.0)
    _, losses = kd.forward_train(*_batch())
    assert losses["kd"].item() == 0.0 and losses["ce"].item() > 0


def test_kd_without_a_teacher_is_refused():
    with pytest.raises(ValueError, match="^teacher:"):
        KD(build_model("resnet8", 10, 1), None)


def test_vanilla_loss_is_plain_cross_entropy():
    torch.manual_seed(0)
    vanilla = METHODS["vanilla"](build_model("resnet8", 10, 1)).eval()
    x, y = _batch()
    logits, losses = vanilla.forward_train(x, y)
    assert set(losses) == {"ce"}
    torch.testing.assert_close(losses["ce"], F.cross_entropy(logits, y))


def test_attached_logit_cache_is_read_and_teacher_not_called(kd):
    kd.logit_cache = torch.randn(20, 10)
    kd.teacher.register_forward_pre_hook(lambda *_: pytest.fail("teacher was run despite the cache"))
    keys = torch.tensor([3, 17, 3])
    step = Step(0, 1, 0, 1, indices=keys // 2, batch_indices=keys // 2, cache_rows=keys, generator=torch.Generator())
    assert torch.equal(kd.teacher_logits(torch.randn(3, 1, 28, 28), step), kd.logit_cache[keys])
    x, y = _batch(3)
    _, losses = kd.forward_train(x, y, step)
    with torch.no_grad():
        expected = kd.config.kd_weight * kd_loss(kd.student(x), kd.logit_cache[keys], kd.config.temperature)
    torch.testing.assert_close(losses["kd"], expected)


@pytest.mark.parametrize("channels_last", [False, True])
def test_cached_view_logits_equal_teacher_logits_on_that_view(kd, channels_last, tiny_config):
    data = Dataset("fashion_mnist", _split(12, 2), _split(4, 3), None, 10, MEAN, STD)
    cfg = tiny_config("kd", channels_last=channels_last, precision="fp32")
    cache = build_logit_cache(kd.teacher, data, cfg, "cpu", batch_size=8)
    views = augment.num_views(2, True)
    assert cache.shape == (len(data.train) * views, 10)
    index = torch.tensor([0, 3, 5, 11, 11, 7])
    view_ids = torch.randint(0, views, (len(index),), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        direct = kd.teacher(to_model_input(data.train.images[index], MEAN, STD, view_ids, 2, True))
    torch.testing.assert_close(cache[index * views + view_ids], direct, rtol=0, atol=1e-5)


def test_training_from_the_cache_matches_running_the_teacher(data, tiny_config):
    """The trainer's keys pick the cache row of the exact view it rendered."""
    cfg = tiny_config("kd", epochs=1, batch_size=16, lr=0.1, channels_last=False, precision="fp32")
    torch.manual_seed(0)
    student, teacher = build_model("resnet8", 10, 1), build_model("resnet14", 10, 1)
    on_the_fly = KD(copy.deepcopy(student), copy.deepcopy(teacher))
    cached = KD(copy.deepcopy(student), copy.deepcopy(teacher))
    cached.logit_cache = build_logit_cache(cached.teacher, data, cfg, "cpu")
    [a], [b] = fit(on_the_fly, data, cfg), fit(cached, data, cfg)
    assert a["train_loss"]["kd"] == pytest.approx(b["train_loss"]["kd"], rel=1e-4)
    assert a["train_loss"]["kd"] > 0.01

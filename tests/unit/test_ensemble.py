"""Ensemble teachers: how members are combined, a frozen ensemble, its stored record, and bad input."""
import pytest
import torch

from kdsrc import engine, experiment, teachers
from kdsrc.config import ConfigError, make_config
from kdsrc.distillers import METHODS, DataSummary
from kdsrc.models import build_model
from kdsrc.models.ensemble import TeacherEnsemble

IMAGES = torch.randn(4, 1, 28, 28)
EXAMPLE = DataSummary(100, 10, IMAGES)  # what a distiller is told of the data


def _members(k=3, classes=10):
    torch.manual_seed(0)
    return [build_model("resnet8", classes, 1).eval() for _ in range(k)]


def test_logit_ensemble_is_the_mean_of_its_members_logits():
    members = _members()
    with torch.no_grad():
        expected = torch.stack([m(IMAGES) for m in members]).mean(0)
        assert torch.allclose(TeacherEnsemble(members).eval()(IMAGES), expected, atol=1e-6)


@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_logit_ensemble_softened_is_the_geometric_mean_of_its_members_softened_distributions(temperature):
    members = _members()
    with torch.no_grad():
        geometric = torch.stack([(m(IMAGES) / temperature).log_softmax(1) for m in members]).mean(0).exp()
        expected = geometric / geometric.sum(1, keepdim=True)
        assert torch.allclose((TeacherEnsemble(members).eval()(IMAGES) / temperature).softmax(1), expected, atol=1e-6)


@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_probability_ensemble_gives_the_mean_of_its_members_softened_probabilities(temperature):
    members = _members()
    ensemble = TeacherEnsemble(members, "probs", temperature).eval()
    with torch.no_grad():
        expected = torch.stack([(m(IMAGES) / temperature).softmax(1) for m in members]).mean(0)
        assert torch.allclose((ensemble(IMAGES) / temperature).softmax(1), expected, atol=1e-6)
        if temperature != 1.0:  # not the plain probabilities' mean, softened afterwards
            plain = TeacherEnsemble(members, "probs").eval()(IMAGES)
            assert not torch.allclose((plain / temperature).softmax(1), expected, atol=1e-4)


def test_a_probability_ensemble_averages_at_the_distilling_methods_temperature(tiny_config):
    t4, t2 = (tiny_config("kd", teacher_ensemble=2, ensemble="probs", temperature=t)
              for t in (4, 2))
    data = experiment.dataset_for(t4)
    assert teachers.network(t4, data).temperature == 4.0
    assert teachers.network(tiny_config("ce_binary_kl", teacher_ensemble=2, ensemble="probs"), data).temperature == 2.0
    assert teachers.ensemble_id(t4) != teachers.ensemble_id(t2)
    logits = [tiny_config("kd", teacher_ensemble=2, temperature=t) for t in (4, 2)]
    assert teachers.ensemble_id(logits[0]) == teachers.ensemble_id(logits[1])


@pytest.mark.parametrize("members, mode, message", [
    (lambda: [], "logits", "^teacher: an ensemble needs at least one member"),
    (lambda: _members(1, 10) + _members(1, 100), "logits", "^teacher: .*disagree on the number of classes: \\[10, 100\\]"),
    (lambda: _members(2), "median", "^ensemble: must be one of"),
])
def test_bad_ensembles_are_one_clear_line(members, mode, message):
    with pytest.raises(ValueError, match=message):
        TeacherEnsemble(members(), mode)
    with pytest.raises(ValueError, match="^temperature: .* must be > 0, got 0"):
        TeacherEnsemble(_members(2), "probs", 0)


def test_an_ensemble_teacher_is_frozen_and_feature_methods_refuse_it():
    ensemble = TeacherEnsemble(_members(2))
    kd = METHODS["kd"](build_model("resnet8", 10, 1), ensemble)
    assert not any(p.requires_grad for p in ensemble.parameters())
    kd.train()
    assert not ensemble.training and all(not m.training for m in ensemble.members)
    with pytest.raises(ValueError, match="^teacher: an ensemble has no single feature map"):
        METHODS["fitnets"](build_model("resnet8", 10, 1), ensemble, METHODS["fitnets"].Config(), data=EXAMPLE)


def test_ensemble_config_members_and_run_ids():
    base = make_config("kd", "cpu")
    two = make_config("kd", "cpu", teacher_ensemble=2)
    assert [t.seed for t in two.teacher_configs()] == [0, 1] and two.teacher_configs()[0] == base.teacher_config()
    assert make_config("kd", "cpu", teacher_ensemble=1, ensemble="logits").run_id() == base.run_id()
    assert len({base.run_id(), two.run_id(), make_config("kd", "cpu", teacher_ensemble=2, ensemble="probs").run_id()}) == 3
    with pytest.raises(ConfigError, match="^teacher_ensemble:"):
        make_config("kd", "cpu", teacher_ensemble=0)
    with pytest.raises(ConfigError, match="^ensemble:"):
        make_config("kd", "cpu", ensemble="median")


def test_distilling_from_an_ensemble_stores_its_record_and_uses_it_as_the_teacher(tiny_config, tmp_path):
    cfg = tiny_config("kd", teacher_ensemble=2, teacher_cache=True)
    student = experiment.run(cfg, tmp_path)
    record = experiment.ensemble_run(cfg, tmp_path)
    assert teachers.ensemble_path(cfg, tmp_path).exists()
    assert student["teacher_run_id"] == record["run_id"] and student["teacher_test_acc"] == record["last_test_acc"]
    assert record["member_run_ids"] == [experiment.run(m, tmp_path)["run_id"] for m in cfg.teacher_configs()]
    # the ensemble's cache combines its members' caches, stored as single teachers' are
    assert sorted(p.name.split("_")[1] for p in (tmp_path / "cache").glob("logits_*.pt")) == sorted(record["member_run_ids"])
    data = experiment.dataset_for(cfg)
    ensemble = teachers.load_teacher(cfg, tmp_path)
    with torch.no_grad():
        acc = 100 * (engine.predict(ensemble, data.test.images, data).argmax(1) == data.test.labels).float().mean()
    assert record["last_test_acc"] == pytest.approx(acc.item(), abs=1e-4)
    experiment.use(stored_only=True)
    try:
        with pytest.raises(experiment.MissingRun, match="stored ensemble"):
            experiment.ensemble_run(tiny_config("kd", teacher_ensemble=3), tmp_path)
    finally:
        experiment.use()


@pytest.mark.parametrize("mode", ["logits", "probs"])
def test_the_ensemble_cache_combines_member_caches_into_what_the_ensemble_outputs(tiny_config, tmp_path, mode):
    from kdsrc import augment
    from kdsrc.data import to_model_input
    cfg = tiny_config("kd", teacher_ensemble=2, ensemble=mode, teacher_cache=True)
    experiment.ensemble_run(cfg, tmp_path)
    ensemble = teachers.load_teacher(cfg, tmp_path)
    data = experiment.dataset_for(cfg)
    experiment.use(tmp_path)
    try:
        cache = teachers.logit_cache(cfg, ensemble, tmp_path, "cpu")
    finally:
        experiment.use()
    views = augment.num_views(cfg.crop_padding, cfg.flip)
    index, view = torch.tensor([0, 3, 7]), torch.tensor([0, 11, views - 1])
    x = to_model_input(data.train.images[index], data.mean, data.std, view, cfg.crop_padding, cfg.flip)
    with torch.no_grad():
        expected = ensemble.eval()(x)
    assert torch.allclose(cache[index * views + view], expected, atol=1e-4)

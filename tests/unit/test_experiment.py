"""experiment.run: caching by run id, the stored record, weights, teachers trained as runs, stored-only sessions."""
import json
from dataclasses import replace

import pytest
import torch

from kdsrc import experiment, results, store, teachers
from kdsrc.models import build_model
from kdsrc import engine
from kdsrc.engine import evaluate


@pytest.fixture(autouse=True)
def _reset_session():
    yield
    experiment.use()


def _no_training(*args, **kwargs):
    raise AssertionError("trained although a stored result exists")


def test_stored_run_is_returned_without_training(tiny_config, tmp_path, monkeypatch):
    cfg = tiny_config("vanilla")
    first = experiment.run(cfg, root=tmp_path)
    monkeypatch.setattr(experiment, "fit", _no_training)
    assert experiment.run(cfg, root=tmp_path) == first


def test_changed_parameter_trains_a_new_run_beside_the_old(tiny_config, tmp_path):
    first = experiment.run(tiny_config("vanilla", epochs=1), root=tmp_path)
    second = experiment.run(tiny_config("vanilla", epochs=1, lr=0.1), root=tmp_path)
    assert first["run_id"] != second["run_id"]
    assert len(list((tmp_path / "runs").rglob("*.json"))) == 2


def test_stored_json_records_config_history_figures_and_provenance(tiny_config, tmp_path):
    cfg = tiny_config("vanilla", seed=3)
    experiment.run(cfg, root=tmp_path)
    stored = json.loads(results.run_path(cfg, tmp_path).read_text())
    assert stored["run_id"] == cfg.run_id() and stored["config"] == cfg.to_dict()
    assert stored["config"]["seed"] == 3
    assert stored["code"]["git_commit"] and stored["libraries"]["torch"] == torch.__version__
    assert stored["hardware"]["device"] == "cpu"
    history = stored["history"]
    assert [r["epoch"] for r in history] == [1, 2]
    assert all(0 <= r["test_acc"] <= 100 and r["train_loss"]["total"] > 0 for r in history)
    assert stored["last_test_acc"] == history[-1]["test_acc"]
    assert stored["best_test_acc"] == max(r["test_acc"] for r in history)
    assert history[stored["best_epoch"] - 1]["test_acc"] == stored["best_test_acc"]
    assert stored["seconds_per_epoch"] > 0 and stored["peak_memory_mb"] > 0
    assert stored["parameters"] == 83892 - 5850 - 288  # resnet8 with 10 classes (not 100), 1 channel (not 3)


def test_vanilla_run_keeps_final_weights_loadable_with_weights_only(tiny_config, tmp_path):
    cfg = tiny_config("vanilla")
    result = experiment.run(cfg, root=tmp_path)
    state = torch.load(store.weights_path(cfg, tmp_path), weights_only=True)
    model = build_model(cfg.model, 10, 1)
    model.load_state_dict(state)
    data = experiment.dataset_for(cfg)
    assert evaluate(model, data.test, data, cfg, "cpu") == result["last_test_acc"]


def test_kd_run_trains_its_teacher_as_a_stored_vanilla_run(tiny_config, tmp_path):
    cfg = tiny_config("kd")
    result = experiment.run(cfg, root=tmp_path)
    teacher_cfg = cfg.teacher_config()
    teacher = results.read_run(results.run_path(teacher_cfg, tmp_path))
    assert result["teacher_run_id"] == teacher["run_id"] == teacher_cfg.run_id()
    assert result["teacher_test_acc"] == teacher["last_test_acc"]
    assert store.weights_path(teacher_cfg, tmp_path).exists()
    assert set(result["history"][0]["train_loss"]) == {"ce", "kd", "total"}


def test_a_distilled_run_keeps_its_networks_for_the_figure_seed_only(tiny_config, tmp_path):
    cfg = tiny_config("fitnets")
    assert cfg.seed == experiment.FIGURE_SEED
    experiment.run(cfg, root=tmp_path)
    kept = torch.load(store.weights_path(cfg, tmp_path), weights_only=True)
    assert any(k.startswith("student.") for k in kept) and any(not k.startswith("student.") for k in kept)
    assert not any(k.startswith("teacher.") for k in kept)
    distiller = experiment.trained_distiller(cfg, tmp_path)
    data = experiment.dataset_for(cfg)
    assert evaluate(distiller.student, data.test, data, cfg, "cpu") == results.read_run(results.run_path(cfg, tmp_path))["last_test_acc"]
    other = replace(cfg, seed=1)
    experiment.run(other, root=tmp_path)
    assert not store.weights_path(other, tmp_path).exists()
    with pytest.raises(experiment.MissingRun, match="seed 0 only"):
        experiment.trained_distiller(other, tmp_path)


def test_logit_cache_is_built_once_and_shared_by_seeds(tiny_config, tmp_path, monkeypatch):
    cfg = tiny_config("kd", teacher_cache=True, train_subset=20, epochs=1)
    experiment.run(cfg, root=tmp_path)
    assert len(list((tmp_path / "cache").glob("logits_*.pt"))) == 1
    monkeypatch.setattr(teachers, "build_logit_cache", _no_training)
    experiment.run(replace(cfg, seed=1), root=tmp_path)


def test_stored_only_makes_a_missing_run_an_error(tiny_config, tmp_path):
    stored = experiment.run(tiny_config("vanilla", epochs=1), root=tmp_path)
    experiment.use(stored_only=True)
    assert experiment.run(tiny_config("vanilla", epochs=1), root=tmp_path) == stored
    with pytest.raises(experiment.MissingRun):
        experiment.run(tiny_config("vanilla", epochs=1, seed=5), root=tmp_path)
    assert len(list((tmp_path / "runs").rglob("*.json"))) == 1


def test_srrl_before_and_after_its_run_as_the_teacher_reads_it(tiny_config, tmp_path):
    from kdsrc import probes
    cfg = tiny_config("srrl")
    experiment.run(cfg, root=tmp_path)
    data = experiment.dataset_for(cfg)
    before, after = experiment.initial_distiller(cfg, tmp_path), experiment.trained_distiller(cfg, tmp_path)
    images, labels = data.test.images[:64], data.test.labels[:64]
    features = {name: engine.predict_features(d.student, images, data) for name, d in (("before", before), ("after", after))}
    table = probes.teacher_reading(features, {"before": before, "after": after}, labels).set_index("model")
    assert set(table.columns) == {"own classifier acc (%)", "teacher classifier acc (%)"}
    assert not torch.equal(before.connector[0].weight, after.connector[0].weight)  # the run moved the connector
    torch.manual_seed(cfg.seed)
    assert torch.equal(build_model(cfg.model, data.num_classes, data.in_channels).state_dict()["fc.weight"],
                       before.student.state_dict()["fc.weight"])  # the run's own initial draw

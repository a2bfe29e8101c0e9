"""A run's teacher: recorded in the manifest, imported or trained, once each."""
from dataclasses import replace

import pytest
import torch

from kdsrc import experiment, results, store, teachers
from kdsrc.config import make_config
from kdsrc.engine.provenance import sha256
from kdsrc.models import build_model


def test_trained_teachers_are_recorded_once_with_the_sha256_of_their_weights(tiny_config, tmp_path):
    cfg = tiny_config("kd", epochs=1)
    for seed in (0, 1):
        experiment.run(replace(cfg, seed=seed), root=tmp_path)
    teacher = cfg.teacher_config()
    record = results.read_run(results.run_path(teacher, tmp_path))
    manifest = teachers.manifest("smoke", tmp_path)
    assert manifest.to_dict("records") == [{
        "id": f"run:{teacher.run_id()}", "model": teacher.model, "source": f"run:{teacher.run_id()}",
        "sha256": sha256(store.weights_path(teacher, tmp_path)), "dataset": "fashion_mnist",
        "test_subset": teacher.test_subset, "last_test_acc": record["last_test_acc"],
        "best_test_acc": record["best_test_acc"], "epochs": teacher.epochs, "seed": teacher.seed,
        "code": record["code"]["git_commit"], "code_dirty": record["code"]["kdsrc_dirty"],
        "date": record["finished_utc"]}]


def test_the_manifest_of_runs_stored_before_it_is_rebuilt_from_their_teachers_runs(tiny_config, tmp_path):
    cfg = tiny_config("kd", epochs=1)
    experiment.run(cfg, root=tmp_path)
    recorded = teachers.manifest("smoke", tmp_path)
    store.manifest_path("smoke", tmp_path).unlink()  # as for runs stored before the manifest existed
    entries = teachers.record_stored_teachers("smoke", tmp_path)
    assert [e["source"] for e in entries] == [f"run:{cfg.teacher_config().run_id()}"]
    assert teachers.manifest("smoke", tmp_path).equals(recorded)


def _store_weights(cfg, root, bias):
    """Store weights for ``cfg``'s run (Fashion-MNIST: 10 classes, 1 channel), its classifier's bias ``bias``."""
    net = build_model(cfg.model, 10, 1)
    torch.nn.init.constant_(net.fc.bias, bias)
    store.save_tensors(net.state_dict(), store.weights_path(cfg, root))


def test_baseline_networks_are_the_stored_teacher_and_student_alone_of_a_config(tmp_path):
    cfg = make_config("at", "smoke")
    _store_weights(cfg.teacher_config(), tmp_path, 1.0)
    _store_weights(make_config("vanilla", "smoke"), tmp_path, 2.0)
    networks = teachers.baseline_networks(cfg, tmp_path)
    assert list(networks) == ["teacher", "student alone"]
    assert torch.all(networks["teacher"].fc.bias == 1.0) and torch.all(networks["student alone"].fc.bias == 2.0)
    with pytest.raises(ValueError, match="has no weights file"):  # another student model: another run
        teachers.baseline_networks(make_config("at", "smoke", model="resnet14"), tmp_path)

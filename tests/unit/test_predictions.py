"""Every run stores its top-1 predictions on the test and validation images, beside its record."""
import pytest
import torch

from kdsrc import experiment, store


def _accuracy(classes, split):
    return 100.0 * (classes.long() == split.labels).sum().item() / len(split)


@pytest.mark.parametrize("method", ["vanilla", "kd"])
def test_a_runs_stored_predictions_score_its_recorded_final_accuracies(tiny_config, tmp_path, method):
    cfg = tiny_config(method, val_size=50)
    record = experiment.run(cfg, root=tmp_path)
    classes = experiment.predictions(cfg, root=tmp_path)
    data = experiment.dataset_for(cfg)
    assert classes["test"].dtype == torch.uint8 and len(classes["test"]) == len(data.test)
    assert _accuracy(classes["test"], data.test) == record["last_test_acc"]
    assert _accuracy(classes["val"], data.val) == record["last_val_acc"]


def test_a_vanilla_run_stored_without_predictions_gets_them_from_its_weights(tiny_config, tmp_path):
    cfg = tiny_config("vanilla")
    experiment.run(cfg, root=tmp_path)
    path = store.predictions_path(cfg, tmp_path)
    stored = store.load_tensors(path)
    path.unlink()
    again = experiment.predictions(cfg, root=tmp_path)
    assert set(again) == {"test"} and torch.equal(again["test"], stored["test"]) and path.exists()


def test_predictions_of_a_run_that_kept_none_are_refused(tiny_config, tmp_path):
    cfg = tiny_config("kd")
    with pytest.raises(experiment.MissingRun, match="predictions: no stored run"):
        experiment.predictions(cfg, root=tmp_path)
    experiment.run(cfg, root=tmp_path)
    store.predictions_path(cfg, tmp_path).unlink()
    with pytest.raises(experiment.MissingRun, match="kept neither its predictions nor its weights"):
        experiment.predictions(cfg, root=tmp_path)

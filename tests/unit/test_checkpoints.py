"""Teacher checkpoints in RepDistiller's, mdistiller's and our own layout: imported, refused, and distilled from."""
import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from kdsrc import checkpoints, experiment, teachers
from kdsrc.config import ConfigError, make_config
from kdsrc.engine import evaluate
from kdsrc.engine.provenance import sha256
from kdsrc.models import build_model

ROOT = Path(__file__).resolve().parents[2]
# RepDistiller's key names and shapes, recorded from its models (see the file's "about").
REPDISTILLER = json.loads((Path(__file__).parent / "data" / "repdistiller_state_dicts.json").read_text())["models"]
END_TO_END = dict(train_subset=200, test_subset=100, epochs=1, model="resnet8", teacher="resnet8")


@pytest.fixture(autouse=True)
def _reset_session():
    yield
    experiment.use()


def source_network(name, num_classes=100, in_channels=3):
    """A network of the zoo with every weight and BatchNorm statistic away from its initial value."""
    torch.manual_seed(1)
    model = build_model(name, num_classes, in_channels)
    with torch.no_grad():
        for key, value in model.state_dict().items():
            if key.endswith("num_batches_tracked"):
                value.fill_(240)
            elif key.endswith("running_var"):
                value.uniform_(0.5, 1.5)
            else:
                value.add_(0.1 * torch.randn_like(value))
    return model.eval()


def repdistiller_state(model, name):
    """``model``'s tensors under RepDistiller's key names for ``name`` (same order, as in its files)."""
    return dict(zip([key for key, _ in REPDISTILLER[name]], model.state_dict().values(), strict=True))


def save_repdistiller(model, name, path):
    """A checkpoint as RepDistiller's train_teacher.py writes ``ckpt_epoch_240.pth``."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    torch.save({"epoch": 240, "model": repdistiller_state(model, name), "accuracy": torch.tensor(72.34),
                "optimizer": optimizer.state_dict()}, path)
    return path


def same_logits(a, b, in_channels=3):
    x = torch.randn(2, in_channels, 32, 32)
    with torch.no_grad():
        return torch.equal(a.eval()(x), b.eval()(x))


@pytest.mark.parametrize("name", sorted(REPDISTILLER))
def test_repdistiller_tensors_are_our_zoo_in_the_same_order(name):
    ours = build_model(name, 100, 3).state_dict()
    assert [(key.rsplit(".", 1)[-1], shape) for key, shape in REPDISTILLER[name]] == \
        [(key.rsplit(".", 1)[-1], list(value.shape)) for key, value in ours.items()]


@pytest.mark.parametrize("name", ["resnet8x4", "wrn_16_2", "vgg8", "MobileNetV2", "ShuffleV1"])
def test_repdistiller_checkpoint_imports_with_the_source_networks_logits(name, tmp_path):
    source = source_network(name)
    path = save_repdistiller(source, name, tmp_path / "ckpt_epoch_240.pth")
    imported = checkpoints.import_checkpoint(path, name)
    assert all(torch.equal(a, b) for a, b in zip(imported.state_dict().values(), source.state_dict().values()))
    assert same_logits(imported, source)


def test_mdistiller_student_checkpoint_imports(tmp_path):
    """mdistiller's trainer saves ``{"model": student.state_dict()}`` under RepDistiller's names."""
    source = source_network("wrn_16_2")
    torch.save({"model": repdistiller_state(source, "wrn_16_2")}, tmp_path / "student_best")
    assert same_logits(checkpoints.import_checkpoint(tmp_path / "student_best", "wrn_16_2"), source)


def test_our_own_layout_imports_by_name_in_any_order(tmp_path):
    source = source_network("resnet8", 10, 1)
    state = source.state_dict()
    torch.save(dict(reversed(state.items())), tmp_path / "ours.pt")
    torch.save({"model": state}, tmp_path / "wrapped.pt")
    for path in (tmp_path / "ours.pt", tmp_path / "wrapped.pt"):
        assert same_logits(checkpoints.import_checkpoint(path, "resnet8", 10, 1), source, in_channels=1)


def test_old_checkpoint_without_num_batches_tracked_imports(tmp_path):
    source = source_network("vgg8")
    state = {k: v for k, v in repdistiller_state(source, "vgg8").items() if not k.endswith("num_batches_tracked")}
    torch.save({"model": state}, tmp_path / "old.pth")
    assert same_logits(checkpoints.import_checkpoint(tmp_path / "old.pth", "vgg8"), source)


def test_wrong_architecture_is_refused_naming_file_model_difference_and_the_model_it_fits(tmp_path):
    path = save_repdistiller(source_network("resnet8x4"), "resnet8x4", tmp_path / "ckpt_epoch_240.pth")
    with pytest.raises(ValueError, match=r"^teacher_checkpoint: .*ckpt_epoch_240.pth is not a resnet8 ") as error:
        checkpoints.import_checkpoint(path, "resnet8")
    message = str(error.value)
    assert "the file has 62 tensors, the model 56" in message
    assert "tensor 0 differs: file 'conv1.weight' [32, 3, 3, 3], model 'conv1.weight' [16, 3, 3, 3]" in message
    assert message.endswith("the file fits resnet8x4 (num_classes=100, in_channels=3)")


def test_cifar_checkpoint_is_refused_for_other_classes_and_channels(tmp_path):
    path = save_repdistiller(source_network("resnet8"), "resnet8", tmp_path / "cifar.pth")
    with pytest.raises(ValueError, match=r"not a resnet8 \(num_classes=10, in_channels=1\): tensor 0 differs.*"
                                         r"fits resnet8 \(num_classes=100, in_channels=3\)"):
        checkpoints.import_checkpoint(path, "resnet8", 10, 1)
    with pytest.raises(ValueError, match=r"tensor 54 differs: file 'fc.weight' \[100, 64\], model 'fc.weight' \[10, 64\]"):
        checkpoints.import_checkpoint(path, "resnet8", 10, 3)


def test_same_shapes_grouped_into_other_modules_are_refused(tmp_path):
    state = repdistiller_state(source_network("resnet8"), "resnet8")
    state = {("layer1.0.conv1.num_batches_tracked" if k == "bn1.num_batches_tracked" else k): v for k, v in state.items()}
    torch.save(state, tmp_path / "regrouped.pth")
    with pytest.raises(ValueError, match=r"tensor 5 differs: .*a module boundary falls elsewhere.*fits no model"):
        checkpoints.import_checkpoint(tmp_path / "regrouped.pth", "resnet8")


def test_a_file_that_is_not_weights_only_is_refused(tmp_path):
    """RepDistiller's <model>_last.pth also pickles its argparse options."""
    state = repdistiller_state(source_network("resnet8"), "resnet8")
    torch.save({"opt": argparse.Namespace(model="resnet8"), "model": state}, tmp_path / "resnet8_last.pth")
    with pytest.raises(ValueError, match=r"^teacher_checkpoint: .*resnet8_last.pth cannot be read with "
                                         r"weights_only=True: it pickles argparse.Namespace"):
        checkpoints.import_checkpoint(tmp_path / "resnet8_last.pth", "resnet8")


def test_a_file_without_a_state_dict_is_refused(tmp_path):
    torch.save({"epoch": 240, "accuracy": torch.tensor(70.0)}, tmp_path / "no_model.pth")
    with pytest.raises(ValueError, match=r"^teacher_checkpoint: .*no_model.pth holds no state dict"):
        checkpoints.import_checkpoint(tmp_path / "no_model.pth", "resnet8")
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    with pytest.raises(ValueError, match=r"^teacher_checkpoint: cannot read .*notes.txt as a file of tensors"):
        checkpoints.import_checkpoint(tmp_path / "notes.txt", "resnet8")


def test_run_id_depends_on_the_checkpoint_content_not_its_path(tmp_path):
    first = save_repdistiller(source_network("resnet8", 10, 1), "resnet8", tmp_path / "a.pth")
    copy = tmp_path / "elsewhere" / "b.pth"
    copy.parent.mkdir()
    copy.write_bytes(first.read_bytes())
    kd = lambda path, **kw: make_config("kd", "smoke", teacher="resnet8", teacher_checkpoint=str(path), **kw)  # noqa: E731
    assert kd(first).run_id() == kd(copy).run_id() == kd(first, teacher_epochs=9, teacher_seed=4).run_id()
    assert kd(first).run_id() != make_config("kd", "smoke", teacher="resnet8").run_id()
    assert kd(first).teacher_config() is None
    torch.save(torch.load(first, weights_only=True) | {"epoch": 239}, copy)
    assert kd(copy).run_id() != kd(first).run_id()


@pytest.mark.parametrize("overrides, allowed", [
    (dict(method="vanilla"), "method 'vanilla' uses no teacher"),
    (dict(teacher_ensemble=2), "teacher_ensemble must be 1"),
    (dict(checkpoint="missing.pth"), "no file at"),
])
def test_teacher_checkpoint_errors_name_the_parameter(overrides, allowed, tmp_path):
    save_repdistiller(source_network("resnet8", 10, 1), "resnet8", tmp_path / "t.pth")
    method = overrides.pop("method", "kd")
    path = tmp_path / overrides.pop("checkpoint", "t.pth")
    with pytest.raises(ConfigError, match=f"^teacher_checkpoint: .*{allowed}"):
        make_config(method, "smoke", teacher_checkpoint=path, **overrides)


def test_command_line_takes_the_checkpoint_and_refuses_a_wrong_one_in_one_line(tmp_path):
    path = save_repdistiller(source_network("resnet8", 10, 1), "resnet8", tmp_path / "t.pth")
    proc = subprocess.run([sys.executable, "-m", "kdsrc", "train", "--method", "kd", "--profile", "smoke",
                           "--set", "teacher=resnet14", "--set", f"teacher_checkpoint={path}",
                           *[f"--set={k}={v}" for k, v in END_TO_END.items() if k != "teacher"],
                           "--results", tmp_path / "results"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith(f"kdsrc: error: teacher_checkpoint: {path} is not a resnet14 "), proc.stderr
    assert "fits resnet8 (num_classes=10, in_channels=1)" in proc.stderr


def test_kd_from_a_repdistiller_checkpoint_trains_the_student_and_records_the_teacher(tmp_path):
    source = source_network("resnet8", 10, 1)
    (tmp_path / "resnet8_vanilla").mkdir()
    path = save_repdistiller(source, "resnet8", tmp_path / "resnet8_vanilla" / "ckpt_epoch_240.pth")
    cfg = make_config("kd", "smoke", teacher_checkpoint=str(path), **END_TO_END)
    result = experiment.run(cfg, root=tmp_path / "results")

    data = experiment.dataset_for(cfg)
    assert result["teacher_run_id"] == "checkpoint:" + sha256(path)[:16]
    assert result["teacher_test_acc"] == evaluate(source, data.test, data, cfg, "cpu")
    assert same_logits(teachers.load_teacher(cfg), source, in_channels=1)
    assert not (tmp_path / "results" / "runs" / "smoke" / "vanilla").exists()  # no teacher was trained
    manifest = teachers.manifest("smoke", tmp_path / "results")
    assert manifest[["id", "model", "source", "sha256", "last_test_acc", "epochs"]].to_dict("records") == [
        {"id": result["teacher_run_id"], "model": "resnet8", "source": str(path), "sha256": sha256(path),
         "last_test_acc": result["teacher_test_acc"], "epochs": None}]

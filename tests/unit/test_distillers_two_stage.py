"""Two-stage methods (FSP, AB; FT's in test_distillers_relations): what the first stage trains, its loss, and resuming inside it."""
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from kdsrc import experiment
from kdsrc.config import make_config
from kdsrc.distillers import METHODS, DataSummary
from kdsrc.distillers.ab import ABConfig
from kdsrc.distillers.at import ATConfig
from kdsrc.distillers.base import feature_modules
from kdsrc.distillers.fitnets import FitNetsConfig
from kdsrc.distillers.fsp import FSPConfig
from kdsrc.losses import ab_loss
from kdsrc.models import build_model
from kdsrc.engine import fit

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = DataSummary(100, 10, torch.randn(2, 1, 28, 28))  # what distillers are told of the data


def _pair(student="resnet8", teacher="resnet14"):
    torch.manual_seed(0)
    return build_model(student, 10, 1), build_model(teacher, 10, 1)


def _snapshot(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_fsp_refuses_a_pair_whose_stages_differ_in_channels():
    with pytest.raises(ValueError, match="^method: fsp needs equal channels"):
        METHODS["fsp"](*_pair("resnet8", "wrn_16_2"), FSPConfig(), data=EXAMPLE)


def test_ab_connectors_are_identity_for_equal_channels_and_1x1_conv_bn_otherwise():
    same = METHODS["ab"](*_pair(), ABConfig(), data=EXAMPLE)
    assert all(isinstance(c, torch.nn.Identity) for c in same.connectors) and same.extra_parameter_count() == 0
    wider = METHODS["ab"](*_pair("resnet8", "resnet8x4"), ABConfig(), data=EXAMPLE)
    assert all(c[0].kernel_size == (1, 1) and isinstance(c[1], torch.nn.BatchNorm2d) for c in wider.connectors)
    assert wider.extra_parameter_count() > 0


def test_ab_refuses_layers_whose_spatial_sizes_differ():
    with pytest.raises(ValueError, match="^layers:"):
        METHODS["ab"](build_model("resnet8", 10, 1), _Shrunk(), ABConfig(layers=(1,)), data=EXAMPLE)


class _Shrunk(torch.nn.Module):
    """A stand-in teacher whose stage-1 map is half the student's size."""

    def __init__(self):
        super().__init__()
        self.net = build_model("resnet8", 10, 1)

    def forward_features(self, x):
        return self.net.forward_features(torch.nn.functional.avg_pool2d(x, 2))


def test_ab_first_stage_loss_weights_layers_and_scales_by_three_thousandths():
    student, teacher = _pair()
    ab = METHODS["ab"](student, teacher, ABConfig(), data=EXAMPLE).eval()
    x = torch.randn(4, 1, 28, 28)
    s, t = student.forward_features(x).preacts, teacher.forward_features(x).preacts
    expected = 3 / 1000 * (ab_loss(s[1], t[1]) / 4 + ab_loss(s[2], t[2]) / 2 + ab_loss(s[3], t[3]))
    assert torch.isclose(ab.first_stage().loss(x, None, None)[1]["ab"], expected)


CIFAR_EXAMPLE = DataSummary(100, 100, torch.randn(2, 3, 32, 32))


def _alternative_l2(source, target, margin=1.0):
    """The official alternative loss written out: a squared margin violation wherever the student's
    response sits on the wrong side of the teacher's activation boundary, summed, per sample."""
    off = (source + margin) ** 2 * ((source > -margin) & (target <= 0))
    on = (source - margin) ** 2 * ((source <= margin) & (target > 0))
    return (off + on).sum() / source.shape[0]


def test_repdistiller_connectors_are_identity_where_maps_agree_and_resizing_regressors_elsewhere():
    torch.manual_seed(0)
    student, teacher = build_model("ShuffleV1", 100, 3), build_model("resnet32x4", 100, 3)
    with pytest.raises(ValueError, match=r"^layers: stage 1 .* \(connector='repdistiller' can\)"):
        METHODS["ab"](student, teacher, ABConfig(), data=CIFAR_EXAMPLE)
    ab = METHODS["ab"](student, teacher, ABConfig(connector="repdistiller", layers="all"), data=CIFAR_EXAMPLE)
    assert ab.layers == (1, 2, 3)
    s, t = (m.forward_features(CIFAR_EXAMPLE.example).preacts for m in (student.eval(), teacher.eval()))
    for i, connector in zip(ab.layers, ab.connectors):
        assert connector.eval()(s[i]).shape == t[i].shape
        assert not any(isinstance(m, torch.nn.ReLU) for m in connector.modules())  # ConvReg without ReLU
    assert isinstance(ab.connectors[0][0], torch.nn.ConvTranspose2d)  # 16x16 -> 32x32
    same = METHODS["ab"](*_pair(), ABConfig(connector="repdistiller"), data=EXAMPLE)
    assert all(isinstance(c, torch.nn.Identity) for c in same.connectors)


def test_layers_all_matches_every_stage_after_the_stem_with_repdistillers_weights():
    torch.manual_seed(0)
    student, teacher = build_model("vgg8", 100, 3), build_model("vgg13", 100, 3)
    ab = METHODS["ab"](student, teacher, ABConfig(connector="repdistiller", layers="all"), data=CIFAR_EXAMPLE).eval()
    x = torch.randn(4, 3, 32, 32)
    s, t = student.forward_features(x).preacts, teacher.forward_features(x).preacts
    assert ab.layers == (1, 2, 3, 4)
    expected = sum(2 ** (k - 3) * _alternative_l2(c(s[i]), t[i]) for k, (i, c) in enumerate(zip(ab.layers, ab.connectors)))
    torch.testing.assert_close(ab.first_stage().loss(x, None, None)[1]["ab"], expected * 3 / 1000)
    with pytest.raises(ValueError, match="^layers: 'all' pairs every stage after the stem"):
        METHODS["ab"](build_model("resnet8", 100, 3), teacher, ABConfig(layers="all"), data=CIFAR_EXAMPLE)
    with pytest.raises(ValueError, match="^connector: must be one of"):
        ABConfig(connector="mine")


def test_at_layers_all_takes_every_stage_after_the_stem():
    torch.manual_seed(0)
    student, teacher = build_model("MobileNetV2", 100, 3), build_model("vgg13", 100, 3)
    assert METHODS["at"](student, teacher, ATConfig(layers="all"), data=CIFAR_EXAMPLE).layers == (1, 2, 3, 4)
    assert METHODS["at"](student, teacher, ATConfig(), data=CIFAR_EXAMPLE).layers == (1, 2, 3)
    assert make_config("at", "paper").method_params["layers"] == "all"
    with pytest.raises(ValueError, match="^layers: must be a non-empty list of stage indices >= 0 or 'all'"):
        ATConfig(layers="some")


def test_paper_profile_ab_is_repdistillers_and_the_stored_ab_runs_keep_their_ids():
    paper = make_config("ab", "paper").method_params
    assert (paper["connector"], paper["layers"], paper["ce_weight"], paper["kd_weight"]) == ("repdistiller", "all", 1.0, 0.0)
    assert make_config("ab", "cpu").run_id() == "3d7b2e3232b2d8e2"  # stored before the connector field
    assert make_config("ab", "cpu", connector="repdistiller").run_id() != "3d7b2e3232b2d8e2"


@pytest.mark.parametrize("method", ["fsp", "ab"])
def test_first_stage_trains_feature_layers_only_and_never_the_teacher(tiny_config, method):
    cfg = tiny_config(method)
    student, teacher = _pair()
    distiller = METHODS[method](student, teacher, METHODS[method].Config(init_epochs=1), data=EXAMPLE)
    teacher_before, student_before = _snapshot(teacher), _snapshot(student)
    history = fit(distiller, experiment.dataset_for(cfg), cfg, stage=distiller.first_stage())
    assert len(history) == 1 and history[0]["train_acc"] is None
    assert all(torch.equal(teacher_before[k], v) for k, v in teacher.state_dict().items())
    assert torch.equal(student_before["fc.weight"], student.fc.weight)
    assert not torch.equal(student_before["conv1.weight"], student.conv1.weight)


@pytest.mark.parametrize("name, after_last_stage", [("resnet8", None), ("MobileNetV2", "head"),
                                                     ("ShuffleV2", "head"), ("wrn_16_2", "bn")])
def test_first_stage_modules_are_repdistillers_feat_modules_without_the_layers_after_the_last_stage(
        name, after_last_stage):
    model = build_model(name, 100)
    trained = [id(p) for m in feature_modules(model) for p in m.parameters()]
    expected = [id(p) for child, m in model.named_children() if child not in ("fc", after_last_stage)
                for p in m.parameters()]
    assert trained == expected  # resnet8 (the book's cpu student): the same parameters in the same order


def test_two_stage_run_stores_its_first_stage_and_cleans_up(tiny_config, tmp_path):
    cfg = tiny_config("fsp", init_epochs=2)
    result = experiment.run(cfg, root=tmp_path)
    assert result["first_stage"]["name"] == "fsp" and len(result["first_stage"]["history"]) == 2
    assert len(result["history"]) == cfg.epochs
    assert not list((tmp_path / "checkpoints").rglob("*.ckpt")) and not list((tmp_path / "checkpoints").rglob("*.pt"))


def _without_times(run):
    strip = lambda h: [{k: v for k, v in r.items() if k != "epoch_seconds"} for r in h]  # noqa: E731
    return strip(run["history"]), strip(run["first_stage"]["history"])


@pytest.mark.parametrize("method", ["fsp", "ft"])
def test_two_stage_run_killed_inside_its_first_stage_resumes_to_the_uninterrupted_result(tmp_path, method):
    train = [sys.executable, "-m", "kdsrc", "train", "--method", method, "--profile", "smoke",
             "--set", "init_epochs=4", "--set", "train_subset=200", "--set", "test_subset=100",
             "--set", "batch_size=50", "--set", "teacher_train_subset=200", "--set", "teacher_epochs=1"]
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    proc = subprocess.Popen(train + ["--results", str(killed)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    done, deadline = 0, time.monotonic() + 180
    while done < 1 and proc.poll() is None and time.monotonic() < deadline:
        for ckpt in (killed / "checkpoints").rglob("*.stage1.ckpt"):
            done = len(torch.load(ckpt, weights_only=True)["history"])
        time.sleep(0.02)
    proc.kill()
    _, stderr = proc.communicate()
    assert done >= 1, f"no first-stage checkpoint appeared: {stderr[-2000:]}"
    assert not list((killed / "runs").rglob(f"{method}/*.json"))
    subprocess.run(train + ["--results", str(killed)], cwd=ROOT, check=True, capture_output=True)
    subprocess.run(train + ["--results", str(clean)], cwd=ROOT, check=True, capture_output=True)
    [resumed] = [json.loads(p.read_text()) for p in (killed / "runs").rglob(f"{method}/*.json")]
    [uninterrupted] = [json.loads(p.read_text()) for p in (clean / "runs").rglob(f"{method}/*.json")]
    assert _without_times(resumed) == _without_times(uninterrupted)


def test_fitnets_hint_stage_trains_up_to_the_guided_layer_and_leaves_the_rest_and_the_teacher_alone(tiny_config):
    cfg = tiny_config("fitnets", init_epochs=1)
    student, teacher = _pair()
    fitnets = METHODS["fitnets"](student, teacher, FitNetsConfig(hint_layer=1, init_epochs=1), data=EXAMPLE)
    teacher_before, student_before = _snapshot(teacher), _snapshot(student)
    regressor_before = _snapshot(fitnets.regressor)
    fit(fitnets, experiment.dataset_for(cfg), cfg, stage=fitnets.first_stage())
    assert all(torch.equal(teacher_before[k], v) for k, v in teacher.state_dict().items())
    after = student.state_dict()
    beyond = [k for k in after if k.startswith(("stages.1.", "stages.2.", "fc."))]  # past the guided stage 1
    assert beyond and all(torch.equal(student_before[k], after[k]) for k in beyond)  # weights and BN statistics
    assert not torch.equal(student_before["stages.0.0.conv1.weight"], after["stages.0.0.conv1.weight"])
    assert not torch.equal(student_before["bn1.running_mean"], after["bn1.running_mean"])
    assert not torch.equal(regressor_before["0.weight"], fitnets.regressor[0].weight)


def test_fitnets_paper_two_stage_run_stores_its_hint_stage(tiny_config, tmp_path):
    cfg = tiny_config("fitnets", init_epochs=1, hint_weight=0.0, kd_weight=0.9, ce_weight=0.1)
    result = experiment.run(cfg, root=tmp_path)
    assert result["first_stage"]["name"] == "hint" and set(result["history"][0]["train_loss"]) == {"ce", "kd", "total"}


def test_a_zero_kd_weight_never_runs_the_teacher():
    student, teacher = _pair()
    ab = METHODS["ab"](student, teacher, ABConfig(ce_weight=1.0, kd_weight=0.0), data=EXAMPLE)
    calls = []
    teacher.register_forward_hook(lambda *_: calls.append(1))
    _, losses = ab.forward_train(torch.randn(4, 1, 28, 28), torch.zeros(4, dtype=torch.int64))
    assert calls == [] and losses["kd"].item() == 0.0
    kd = METHODS["ab"](student, teacher, ABConfig(), data=EXAMPLE)
    kd.forward_train(torch.randn(4, 1, 28, 28), torch.zeros(4, dtype=torch.int64))
    assert calls == [1]


def test_ab_records_the_share_of_neurons_on_the_teachers_side_before_and_after_its_first_stage(
        tiny_config, tmp_path, monkeypatch):
    cfg = tiny_config("ab", epochs=1, init_epochs=2)
    probe = experiment.run(cfg, tmp_path / "probed")["first_stage"]["probe"]
    assert set(probe) == {"before", "after"}
    assert set(probe["before"]) == {f"same_side_stage{i}" for i in cfg.method_params["layers"]}
    assert all(0 <= v <= 100 for part in probe.values() for v in part.values())
    assert probe["after"] != probe["before"]
    monkeypatch.setattr(METHODS["ab"], "first_stage_probe", lambda self, x: None)
    plain = experiment.run(cfg, tmp_path / "plain")
    probed = json.loads(experiment.store.run_path(cfg, tmp_path / "probed").read_text())
    assert "probe" not in plain["first_stage"]
    assert plain["first_stage"]["history"] == [{**h, "epoch_seconds": p["epoch_seconds"]} for h, p in
                                               zip(probed["first_stage"]["history"], plain["first_stage"]["history"])]
    assert [h["test_acc"] for h in plain["history"]] == [h["test_acc"] for h in probed["history"]]  # probing trains nothing

"""The reproduction plan of the CRD tables, its status, the command line, and a paper-profile run on
a fabricated CIFAR-100 archive."""
from dataclasses import replace

import pytest
import torch

from kdsrc import distillers, experiment, results, store
from kdsrc.__main__ import main
from kdsrc.config import ConfigError, make_config
from kdsrc.data import STATS, Dataset, Split, to_model_input
from kdsrc.models import build_model
from kdsrc.distillers import DataSummary
from kdsrc.engine.stage import Step
from kdsrc.reproduce import (CRD_NOT_AVAILABLE, DEFAULT_METHODS, REPORTED_ONLY, TABLES, missing_data, pairs_from, plan,
                             progress, reported_pairs, reproduce, skipped, status, stored_runs)

TEACHERS = ["wrn_40_2", "resnet56", "resnet110", "resnet32x4", "vgg13", "ResNet50"]


def _skipped_cells(frame=None) -> set:
    frame = skipped() if frame is None else frame
    return set(frame[["teacher", "student", "method"]].itertuples(index=False, name=None))


def test_paper_profile_is_repdistillers_recipe():
    cfg = make_config("kd", "paper", model="resnet8x4", teacher="resnet32x4")
    assert (cfg.dataset, cfg.epochs, cfg.batch_size, cfg.lr, cfg.momentum, cfg.weight_decay) == \
        ("cifar100", 240, 64, 0.05, 0.9, 5e-4)
    assert (cfg.schedule, cfg.milestones, cfg.lr_decay, cfg.crop_padding, cfg.flip) == \
        ("step", (150, 180, 210), 0.1, 4, True)
    teacher = cfg.teacher_config()
    assert (teacher.model, teacher.epochs, teacher.milestones, teacher.seed) == ("resnet32x4", 240, (150, 180, 210), 0)
    assert make_config("kd", "paper", model="ShuffleV1", teacher="resnet32x4").lr == 0.01


def test_teacher_trained_for_fewer_epochs_keeps_the_step_schedules_shape():
    assert make_config("kd", "paper", teacher_epochs=120).teacher_config().milestones == (75, 90, 105)
    shortest = make_config("kd", "paper", teacher_epochs=1, epochs=2, milestones=(1,)).teacher_config()
    assert shortest.milestones == (1, 1, 1)


def test_default_plan_trains_every_teacher_first_then_three_seeds_of_every_applicable_pair_and_method():
    runs = plan()
    assert [(cfg.method, cfg.model, cfg.seed) for cfg in runs[:6]] == [("vanilla", t, 0) for t in TEACHERS]
    teachers = {cfg.teacher_config().run_id() for cfg in runs if cfg.method != "vanilla"}
    assert {cfg.run_id() for cfg in runs[:6]} == teachers
    students = runs[6:]
    assert [cfg.seed for cfg in students] == sorted(cfg.seed for cfg in students)
    assert {cfg.seed for cfg in students} == {0, 1, 2}
    assert all(cfg.profile == "paper" for cfg in runs) and len({cfg.run_id() for cfg in runs}) == len(runs)
    cells = {(cfg.teacher if cfg.method != "vanilla" else None, cfg.model, cfg.method) for cfg in students}
    left_out = _skipped_cells()
    expected = {}
    for name, pairs in TABLES.items():
        for teacher, student in pairs:
            assert (None, student, "vanilla") in cells  # the student alone, shared by its pairs
            for method in DEFAULT_METHODS[1:]:
                assert ((teacher, student, method) in cells) != ((teacher, student, method) in left_out)
        earlier = {model for pair in sum((TABLES[t] for t in list(TABLES)[:list(TABLES).index(name)]), ()) for model in pair}
        expected[(name, "teacher")] = len({t for t, _ in pairs} - earlier)
        expected[(name, "student alone")] = 3 * len({s for _, s in pairs} - earlier)
        expected[(name, "distilled")] = 3 * sum((t, s, m) not in left_out for t, s in pairs for m in DEFAULT_METHODS[1:])
    assert progress(status(runs)).runs.to_dict() == expected


def test_plan_of_one_table_brings_its_own_teachers_and_passes_overrides_to_every_run():
    runs = plan("table2", ["vanilla", "kd"], 1, data_root="/data", epochs=3, milestones=(1,))
    assert [cfg.model for cfg in runs[:4]] == ["vgg13", "ResNet50", "resnet32x4", "wrn_40_2"]
    assert all(cfg.data_root == "/data" for cfg in runs)
    assert {cfg.epochs for cfg in runs[:4]} == {240} and {cfg.epochs for cfg in runs[4:]} == {3}
    assert len(runs) == 4 + 4 + 6  # teachers, students alone (MobileNetV2, vgg8, ShuffleV1, ShuffleV2), KD


@pytest.mark.parametrize("kwargs, name", [
    (dict(pairs="table3"), "pairs"), (dict(pairs="resnet56-resnet20"), "pairs"), (dict(pairs="resnet56:nope"), "pairs"),
    (dict(pairs="resnet56:resnet20,resnet56:resnet20"), "pairs"), (dict(pairs="all,table1"), "pairs"), (dict(methods="kd,no_such_method"), "methods"),
    (dict(methods=""), "methods"), (dict(seeds=0), "seeds"), (dict(seeds=True), "seeds"), (dict(seed=1), "seed"),
    (dict(model="resnet8"), "model"), (dict(temperature=-1), "temperature"),
])
def test_bad_plan_parameter_raises_config_error_naming_it(kwargs, name):
    with pytest.raises(ConfigError, match=f"^{name}:"):
        plan(**kwargs)


def test_custom_pair_is_checked_by_building_it():
    assert pairs_from("resnet56:resnet20,resnet8:wrn_16_2") == [("Table 1", "resnet56", "resnet20"),
                                                                ("custom", "resnet8", "wrn_16_2")]
    assert pairs_from("table2,resnet8:wrn_16_2")[-2:] == [("Table 2", "wrn_40_2", "ShuffleV1"),
                                                         ("custom", "resnet8", "wrn_16_2")]
    left_out = skipped("resnet8:wrn_16_2", "fsp,kd")
    assert list(left_out.method) == ["fsp"] and left_out.reason[0].startswith("method: fsp needs equal channels")
    assert [cfg.method for cfg in plan("resnet8:wrn_16_2", "fsp,kd", 1)] == ["vanilla", "kd"]


def _cifar_like(images: int = 2) -> Dataset:
    generator = torch.Generator().manual_seed(0)
    split = Split(torch.randint(0, 256, (images, 3, 32, 32), dtype=torch.uint8, generator=generator),
                  torch.arange(images))
    return Dataset("cifar100", split, split, None, 100, *STATS["cifar100"])


def test_every_planned_pair_and_method_trains_a_step_and_exactly_the_skipped_ones_cannot_be_built():
    data, failed = _cifar_like(), set()
    x = to_model_input(data.train.images, data.mean, data.std)
    summary = DataSummary(50_000, 100, x, torch.arange(50_000) % 100)  # CIFAR-100's size, for CRD's banks
    step = Step(0, 240, 0, 1, torch.arange(2), torch.arange(2), None, torch.Generator().manual_seed(0))
    for teacher_name, student_name in [pair for pairs in TABLES.values() for pair in pairs]:
        teacher = build_model(teacher_name, 100)
        for method in DEFAULT_METHODS[1:]:
            if method in REPORTED_ONLY and (teacher_name, student_name) not in reported_pairs(method):
                continue
            cfg = make_config(method, "paper", model=student_name, teacher=teacher_name)
            try:
                student = build_model(student_name, 100)
                distiller = distillers.build(method, cfg.method_params, student, teacher, summary)
            except ValueError:
                failed.add((teacher_name, student_name, method))
                continue
            _, losses = distiller.train().forward_train(x, data.train.labels, step)
            sum(losses.values()).backward()
            assert all(torch.isfinite(loss) for loss in losses.values()), (teacher_name, student_name, method)
    left_out = skipped()
    unreported = left_out.method.isin(REPORTED_ONLY)
    assert failed == _skipped_cells(left_out[~unreported]) and failed
    reasons = left_out[~unreported].set_index(["teacher", "student", "method"]).reason
    for (teacher, student, method), reason in reasons.items():  # the method's requirement, and the paper's cell
        table = next(name for name, pairs in TABLES.items() if (teacher, student) in pairs)
        note = ("the CRD paper prints N/A for this pair" if (teacher, student, method) in CRD_NOT_AVAILABLE
                else f"the CRD paper's {table} has no {method.upper()} row")
        assert reason == f"{distillers.METHODS[method].pair_requirement} ({note})"


def test_the_later_methods_run_on_the_pairs_their_sources_report_with_their_per_pair_recipes():
    left_out = skipped()
    for method in REPORTED_ONLY:
        reported = set(reported_pairs(method))
        unreported = {(t, s) for t, s, m in _skipped_cells(left_out) if m == method}
        assert reported and unreported == {pair for pairs in TABLES.values() for pair in pairs} - reported
    assert set(reported_pairs("dkd")) == set(reported_pairs("reviewkd"))  # mdistiller's eleven DKD pairs
    [reason] = left_out[(left_out.method == "dkd") & (left_out.student == "vgg8")].reason
    assert reason == "Zhao et al. 2022 (DKD) reports no DKD number for this pair"
    runs = {(cfg.method, cfg.teacher, cfg.model): cfg for cfg in plan(methods="dkd,reviewkd,standardized_kd", seeds=1)}
    assert runs[("dkd", "resnet56", "resnet20")].method_params["beta"] == 2.0
    assert runs[("dkd", "resnet32x4", "resnet8x4")].method_params["beta"] == 8.0
    assert runs[("reviewkd", "resnet32x4", "ShuffleV2")].method_params["review_weight"] == 8.0
    lskd = runs[("standardized_kd", "ResNet50", "MobileNetV2")].method_params
    assert (lskd["temperature"], lskd["kd_weight"]) == (3.0, 1.0)
    overridden = plan("resnet56:resnet20", "dkd", 1, beta=3.0)
    assert overridden[-1].method_params["beta"] == 3.0  # an override wins over the per-pair recipe


def test_status_tells_stored_in_progress_and_missing_runs_apart(tmp_path):
    runs = plan("resnet56:resnet20", ["vanilla", "kd", "fsp"], 1)
    results.write_json({"config": runs[1].to_dict(), "last_test_acc": 61.5}, results.run_path(runs[1], tmp_path))
    first_stage = store.checkpoint_path(runs[3], tmp_path).with_suffix(".stage1.ckpt")
    first_stage.parent.mkdir(parents=True)
    first_stage.touch()
    frame = status(runs, tmp_path)
    assert list(frame.role) == ["teacher", "student alone", "distilled", "distilled"]
    assert list(frame.state) == ["missing", "stored", "missing", "in progress"]
    assert frame["last acc (%)"][1] == 61.5 and list(frame.init_epochs) == [0, 0, 0, 30]
    assert [len(found) for found in stored_runs(runs, tmp_path)] == [0, 1]


def test_cli_dry_run_prints_plan_and_skips_and_writes_nothing(tmp_path, capsys):
    code = main(["reproduce", "--dry-run", "--pairs", "wrn_40_2:wrn_40_1", "--methods", "vanilla,fsp,kd",
                 "--seeds", "2", "--results", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("plan: 5 runs of the paper profile, teachers first; 0 stored, 0 in progress, 5 missing")
    assert "skipped: fsp wrn_40_2 -> wrn_40_1 (Table 1): FSP compares" in out
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("args, name", [
    (["--seeds", "0"], "seeds"), (["--seeds", "two"], "seeds"), (["--pairs", "tableX"], "pairs"),
    (["--methods", "kd,none"], "methods"), (["--set", "seed=4"], "seed"), ([], "--data-root"),
])
def test_cli_bad_value_exits_2_with_one_line_naming_it(tmp_path, capsys, args, name):
    code = main(["reproduce", "--results", str(tmp_path), *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith(f"kdsrc: error: {name}:")
    assert not list(tmp_path.iterdir())


def test_missing_data_names_the_file_a_torchvision_root_holds(cifar_root, tmp_path):
    small = ("resnet56:resnet20", ["vanilla"], 1)
    assert missing_data(plan(*small, data_root=str(cifar_root))) is None
    assert missing_data(plan(*small)) is None  # no root given: the CLI's own error, or a dry run
    assert missing_data(plan(*small, profile="cpu", data_root=str(tmp_path / "nowhere"))) is None  # Fashion-MNIST
    why = missing_data(plan(*small, data_root=str(tmp_path / "nowhere")))
    assert why.startswith(f"{tmp_path / 'nowhere'} holds no cifar-100-python/train;")
    assert missing_data(plan(*small, dataset="cifar10", data_root=str(cifar_root))).startswith(
        f"{cifar_root} holds no cifar-10-batches-py/data_batch_1;")


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU"))])
def test_two_epoch_paper_profile_plan_runs_teacher_first_and_is_then_read_back(cifar_root, tmp_path, capsys, device):
    runs = plan("resnet8:resnet8", ["vanilla", "kd"], 1, data_root=str(cifar_root), epochs=2, teacher_epochs=1,
                train_subset=200, test_subset=100, milestones=(1,), teacher_cache=False)
    root = tmp_path / "results"
    stored = reproduce(runs, device, root)
    teacher, alone, kd = stored
    assert [run["config"]["method"] for run in stored] == ["vanilla", "vanilla", "kd"]
    assert kd["teacher_run_id"] == teacher["run_id"] and len(teacher["history"]) == 1
    assert kd["config"]["dataset"] == "cifar100" and kd["config"]["profile"] == "paper"
    assert [h["lr_last"] for h in kd["history"]] == pytest.approx([0.05, 0.005])
    assert {"code", "libraries", "hardware", "finished_utc"} <= set(kd) and kd["hardware"]["device"] == device
    assert kd["numerics"] == {"precision": "fp32", "channels_last": True, "compile": False}  # as RepDistiller
    assert store.weights_path(runs[0], root).exists() and not list(root.rglob("*.ckpt"))
    assert list(status(runs, root).state) == ["stored"] * 3
    capsys.readouterr()
    assert reproduce(runs, device, root) == stored
    assert capsys.readouterr().out.count(": stored") == 3
    table = results.reproduction_table(*stored_runs(runs, root), pairs_from("resnet8:resnet8"), results.crd_reference())
    assert list(table.row) == ["teacher", "student alone", "kd"] and list(table.n) == [1, 1, 1]
    assert table.paper.isna().all()  # a pair of neither table: nothing cited


def _trained(history):
    return [{k: v for k, v in h.items() if k != "epoch_seconds"} for h in history]


def test_paper_profile_kd_trains_the_same_from_the_float32_cache_as_with_its_teacher_on_every_batch(cifar_root, tmp_path):
    """The view cache holds the teacher's logits on every one of an image's 162 pad-4 crops and
    flips, so reading them equals running the teacher on the batch: the same losses, accuracies
    and weights, bit for bit (float32 storage, on this CPU; float16 rounds the logits)."""
    small = dict(data_root=str(cifar_root), epochs=2, teacher_epochs=1, train_subset=200, test_subset=100,
                 milestones=(1,))
    on_the_fly, cached = plan("resnet8:resnet8", ["kd"], 1, teacher_cache=False, **small)[-1], \
        plan("resnet8:resnet8", ["kd"], 1, **small)[-1]
    assert cached.teacher_cache and cached.teacher_cache_dtype == "float32"  # the plan's default for KD
    root = tmp_path / "results"
    fly_run, cached_run = experiment.run(on_the_fly, root, device="cpu"), experiment.run(cached, root, device="cpu")
    assert fly_run["teacher_run_id"] == cached_run["teacher_run_id"]
    assert _trained(cached_run["history"]) == _trained(fly_run["history"])
    weights = [store.load_tensors(store.weights_path(cfg, root)) for cfg in (on_the_fly, cached)]
    assert weights[0].keys() == weights[1].keys() and all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    [cache] = (root / "cache").glob("logits_*.pt")
    assert store.load_tensors(cache).shape == (200 * 162, 100) and store.load_tensors(cache).dtype == torch.float32
    half = experiment.run(replace(cached, teacher_cache_dtype="float16"), root, device="cpu")
    assert _trained(half["history"]) != _trained(fly_run["history"])  # rounded logits: close, not equal
    assert half["history"][-1]["train_loss"]["kd"] == pytest.approx(fly_run["history"][-1]["train_loss"]["kd"], rel=1e-2)

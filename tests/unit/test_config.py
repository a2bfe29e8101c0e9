"""RunConfig: profile defaults, overrides, validation messages, run identity and round trips."""
import json
from dataclasses import replace

import pytest

from kdsrc import config
from kdsrc.config import PROFILES, ConfigError, from_dict, make_config, profile_defaults


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_make_config_applies_every_profile_default(profile):
    cfg = make_config("kd", profile)
    for name, value in PROFILES[profile].items():
        assert getattr(cfg, name) == value, name


def test_smoke_profile_is_a_small_fashion_mnist_run_without_logit_cache():
    cfg = make_config("kd", "smoke")
    assert (cfg.dataset, cfg.model, cfg.teacher) == ("fashion_mnist", "resnet8", "resnet14")
    assert cfg.train_subset <= 2000 and cfg.test_subset <= 1000 and cfg.epochs <= 5
    assert cfg.teacher_train_subset <= 5000 and cfg.teacher_epochs <= 5 and cfg.teacher_cache is False


def test_cpu_profile_defaults():
    cfg = make_config("kd", "cpu")
    assert (cfg.dataset, cfg.train_subset, cfg.test_subset, cfg.epochs) == ("fashion_mnist", 5000, None, 10)
    assert (cfg.model, cfg.teacher, cfg.teacher_epochs, cfg.teacher_train_subset) == ("resnet8", "resnet14", 3, None)
    assert cfg.schedule == "cosine" and cfg.crop_padding == 2 and cfg.flip


def test_paper_profile_is_repdistillers_cifar100_recipe():
    cfg = make_config("kd", "paper")
    assert (cfg.dataset, cfg.epochs, cfg.batch_size, cfg.lr, cfg.momentum, cfg.weight_decay) == \
        ("cifar100", 240, 64, 0.05, 0.9, 5e-4)
    assert (cfg.schedule, cfg.milestones, cfg.lr_decay, cfg.crop_padding) == ("step", (150, 180, 210), 0.1, 4)
    assert (cfg.model, cfg.teacher) == ("resnet20", "resnet56")


def test_kd_method_params_default_to_repdistillers_kd_recipe():
    assert make_config("kd", "smoke").method_params == {"temperature": 4.0, "ce_weight": 0.1, "kd_weight": 0.9}
    assert make_config("vanilla", "smoke").method_params == {}


def test_overrides_set_run_fields_and_method_params():
    cfg = make_config("kd", "smoke", epochs=3, model="resnet20", milestones=[1, 2], temperature=2.0, ce_weight=0.5)
    assert (cfg.epochs, cfg.model, cfg.milestones) == (3, "resnet20", (1, 2))
    assert cfg.method_params == {"temperature": 2.0, "ce_weight": 0.5, "kd_weight": 0.9}
    assert cfg.profile == "smoke" and cfg.method == "kd"


@pytest.mark.parametrize("call,name", [
    (lambda: make_config("nope", "smoke"), "method"),
    (lambda: make_config("kd", "nope"), "profile"),
    (lambda: make_config("kd", "smoke", model="resnet9000"), "model"),
    (lambda: make_config("kd", "smoke", teacher="resnet9000"), "teacher"),
    (lambda: make_config("kd", "smoke", dataset="imagenet"), "dataset"),
    (lambda: make_config("kd", "smoke", schedule="linear"), "schedule"),
    (lambda: make_config("kd", "smoke", temperature=0), "temperature"),
    (lambda: make_config("kd", "smoke", temperature=-1.0), "temperature"),
    (lambda: make_config("kd", "smoke", ce_weight=-0.1), "ce_weight"),
    (lambda: make_config("kd", "smoke", kd_weight=-0.5), "kd_weight"),
    (lambda: make_config("kd", "smoke", epochs=0), "epochs"),
    (lambda: make_config("kd", "smoke", epochs=2.5), "epochs"),
    (lambda: make_config("kd", "smoke", batch_size=True), "batch_size"),
    (lambda: make_config("kd", "smoke", lr=0), "lr"),
    (lambda: make_config("kd", "smoke", lr=float("nan")), "lr"),
    (lambda: make_config("kd", "smoke", momentum=1.5), "momentum"),
    (lambda: make_config("kd", "smoke", weight_decay=-1e-4), "weight_decay"),
    (lambda: make_config("kd", "smoke", lr_decay=0), "lr_decay"),
    (lambda: make_config("kd", "smoke", train_subset=0), "train_subset"),
    (lambda: make_config("kd", "smoke", nope=1), "nope"),
    (lambda: make_config("vanilla", "smoke", temperature=2.0), "temperature"),
    (lambda: make_config("kd", "smoke", epochs=4, milestones=[2, 5]), "milestones"),
    (lambda: make_config("kd", "smoke", milestones=[0]), "milestones"),
    (lambda: make_config("kd", "smoke", teacher=None), "teacher"),
    (lambda: make_config("kd", "smoke", teacher_cache_dtype="bf16"), "teacher_cache_dtype"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_bad_parameter_raises_config_error_starting_with_its_name(call, name):
    with pytest.raises(ConfigError) as info:
        call()
    assert str(info.value).startswith(f"{name}:")


@pytest.mark.parametrize("name", ["lr", "weight_decay"])
def test_infinite_number_raises_config_error(name):
    with pytest.raises(ConfigError, match=f"^{name}:"):
        make_config("kd", "smoke", **{name: float("inf")})


@pytest.mark.parametrize("name", ["flip", "channels_last", "teacher_cache"])
def test_boolean_field_given_a_string_raises_config_error(name):
    with pytest.raises(ConfigError, match=f"^{name}:"):
        make_config("kd", "smoke", **{name: "false"})


def test_scalar_milestones_raise_config_error():
    with pytest.raises(ConfigError, match="^milestones:"):
        make_config("kd", "paper", milestones=150)


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


@pytest.mark.parametrize("change", [dict(seed=1), dict(temperature=2.0), dict(teacher_epochs=5),
                                    dict(teacher_seed=1), dict(epochs=7), dict(model="resnet14"),
                                    dict(teacher_train_subset=300), dict(kd_weight=0.5)],
                         ids=lambda d: next(iter(d)))
def test_run_id_changes_with_any_hashed_field(change):
    assert make_config("kd", "smoke", **change).run_id() != make_config("kd", "smoke").run_id()


def test_run_id_ignores_where_the_data_lives():
    assert make_config("kd", "smoke", data_root="/somewhere/else").run_id() == make_config("kd", "smoke").run_id()


def test_run_id_is_stable_across_calls():
    assert make_config("kd", "smoke").run_id() == make_config("kd", "smoke").run_id()


def test_teacher_config_is_a_vanilla_run_of_the_teacher_model():
    cfg = make_config("kd", "smoke", teacher_seed=3, seed=7)
    teacher = cfg.teacher_config()
    assert (teacher.method, teacher.model, teacher.method_params) == ("vanilla", "resnet14", {})
    assert (teacher.epochs, teacher.train_subset, teacher.seed) == (cfg.teacher_epochs, cfg.teacher_train_subset, 3)
    assert teacher.teacher is None and teacher.teacher_config() is None
    assert (teacher.test_subset, teacher.dataset, teacher.profile) == (cfg.test_subset, cfg.dataset, cfg.profile)


def test_teacher_config_falls_back_to_the_profiles_epochs():
    assert make_config("kd", "smoke", teacher_epochs=None, epochs=5).teacher_config().epochs == PROFILES["smoke"]["epochs"]


def test_vanilla_run_has_no_teacher_config():
    assert make_config("vanilla", "smoke").teacher_config() is None


@pytest.mark.parametrize("cfg", [make_config("kd", "smoke", temperature=2.0),
                                 make_config("vanilla", "paper", data_root="/data")], ids=["kd", "vanilla"])
def test_from_dict_round_trips_to_dict_through_json(cfg):
    again = from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and again.run_id() == cfg.run_id()


def test_replace_revalidates():
    with pytest.raises(ConfigError, match="^seed:"):
        replace(make_config("kd", "smoke"), seed=-1)


def test_whole_number_for_a_float_field_is_the_same_run_as_the_float():
    assert make_config("kd", "cpu", temperature=4).run_id() == make_config("kd", "cpu", temperature=4.0).run_id()
    assert make_config("kd", "cpu", lr=1).run_id() == make_config("kd", "cpu", lr=1.0).run_id()


def test_profiles_set_the_first_stage_length_of_two_stage_methods_and_overrides_win():
    assert make_config("fsp", "paper").method_params["init_epochs"] == 30  # RepDistiller
    assert make_config("ab", "cpu").method_params["init_epochs"] == 2
    assert make_config("fsp", "smoke").method_params["init_epochs"] == 1
    assert make_config("ab", "cpu", init_epochs=5).method_params["init_epochs"] == 5


def test_the_students_training_overrides_never_change_its_teacher():
    """The teacher trains with its profile's recipe: a student's lr, schedule, batch or augmentation
    override must not retrain it (a new teacher would also change what every comparison means)."""
    base = make_config("kd", "cpu").teacher_config()
    for overrides in (dict(lr=0.01), dict(epochs=15), dict(batch_size=64, weight_decay=1e-4), dict(flip=False),
                      dict(schedule="step", milestones=[5]), dict(teacher_cache=False), dict(channels_last=False)):
        teacher = make_config("kd", "cpu", **overrides).teacher_config()
        assert teacher == base and teacher.run_id() == base.run_id(), overrides
    assert make_config("kd", "cpu", teacher_epochs=4).teacher_config().epochs == 4
    assert make_config("kd", "cpu", test_subset=100).teacher_config().test_subset == 100  # the data is the student's


# The run ids of the profiles' default KD runs and their teachers, computed before MODEL_LR and the
# precision/compile fields existed: they must leave every stored run (all resnet8/14/20) where it
# is. The paper profile's ids changed once on purpose, when it moved to the fast path
# (channels-last, no logit cache) while no paper run was stored, and again when it became fp32 by
# default (RepDistiller's precision; bf16 autocast is opt-in), with still no paper run stored.
RUN_IDS_BEFORE_MODEL_LR = {"smoke": ("e3822ee85361f667", "7b24f9adb83b3cce"),
                           "cpu": ("e3ddcccdaba09347", "050ad7eb477f53b8"),
                           "paper": ("6265ecc354ac427f", "09886261a7e3dfad")}


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_per_model_lr_leaves_the_run_ids_of_existing_configurations(profile):
    cfg = make_config("kd", profile)
    assert (cfg.run_id(), cfg.teacher_config().run_id()) == RUN_IDS_BEFORE_MODEL_LR[profile]
    assert make_config("vanilla", "cpu").run_id() == "9c4201bb51fc8bc5"


@pytest.mark.parametrize("model", ["MobileNetV2", "ShuffleV1", "ShuffleV2"])
@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_mobilenet_and_shufflenets_train_at_lr_001_as_student_and_as_teacher(model, profile):
    """RepDistiller's train_student.py and train_teacher.py: lr 0.01 for these models, 0.05 otherwise."""
    profile_lr = profile_defaults(profile)["lr"]
    student = make_config("kd", profile, model=model, teacher="resnet14")
    assert (student.lr, student.teacher_config().lr) == (0.01, profile_lr)
    assert make_config("vanilla", profile, model=model).lr == 0.01
    assert make_config("kd", profile, model="resnet8", teacher=model).teacher_config().lr == 0.01


def test_an_explicit_lr_wins_over_the_models_lr_but_never_reaches_the_teacher():
    cfg = make_config("kd", "paper", model="MobileNetV2", teacher="ShuffleV1", lr=0.05)
    assert (cfg.lr, cfg.teacher_config().lr) == (0.05, 0.01)
    assert make_config("kd", "paper", model="ShuffleV2", lr=0.02).lr == 0.02


@pytest.mark.parametrize("model", ["resnet8", "wrn_16_2", "vgg8", "vgg13", "ResNet50"])
def test_other_models_keep_the_profiles_lr(model):
    cfg = make_config("kd", "paper", model=model, teacher=model)
    assert (cfg.lr, cfg.teacher_config().lr) == (0.05, 0.05)


def test_method_params_are_read_only_and_the_config_is_hashable():
    cfg = make_config("kd", "smoke")
    with pytest.raises(TypeError):
        cfg.method_params["temperature"] = 2.0
    assert cfg.method_params == {"temperature": 4.0, "ce_weight": 0.1, "kd_weight": 0.9}
    assert hash(cfg) == hash(make_config("kd", "smoke")) and {cfg: "stored"}[make_config("kd", "smoke")] == "stored"
    warmer = replace(cfg, method_params={**cfg.method_params, "temperature": 2.0})
    assert warmer.run_id() != cfg.run_id() and cfg.method_params["temperature"] == 4.0
    at = make_config("at", "smoke", layers=[1, 2])
    assert at.method_params["layers"] == (1, 2) and at.to_dict()["method_params"]["layers"] == [1, 2]
    assert from_dict(json.loads(json.dumps(at.to_dict()))) == at and hash(at) == hash(from_dict(at.to_dict()))


def test_the_training_revision_enters_every_run_id_but_the_first_revision_keeps_the_stored_ones(monkeypatch):
    cfg = make_config("kd", "cpu")
    first = (cfg.run_id(), cfg.teacher_config().run_id())
    assert config.TRAINING_REVISION == config.FIRST_REVISION and first == RUN_IDS_BEFORE_MODEL_LR["cpu"]
    monkeypatch.setattr(config, "TRAINING_REVISION", config.FIRST_REVISION + 1)
    second = (cfg.run_id(), cfg.teacher_config().run_id())
    assert second[0] != first[0] and second[1] != first[1]


def test_a_method_that_needs_hard_labels_refuses_mixing(monkeypatch):
    from kdsrc.distillers import METHODS
    from kdsrc.distillers.vanilla import Vanilla

    class HardLabels(Vanilla):
        needs_hard_labels = True

    monkeypatch.setitem(METHODS, "hard_labels", HardLabels)
    assert make_config("hard_labels", "smoke").mixing == "none"
    with pytest.raises(ConfigError, match="^mixing: method 'hard_labels' needs hard labels"):
        make_config("hard_labels", "smoke", mixing="mixup")
    assert make_config("vanilla", "smoke", mixing="mixup").mixing == "mixup"


def test_the_paper_profile_trains_in_fp32_unless_bf16_is_asked_for():
    from kdsrc.engine.numerics import resolve_precision
    assert make_config("kd", "paper").precision == "fp32" == resolve_precision("fp32", "cuda")
    assert make_config("kd", "paper", precision="bf16").precision == "bf16"
    assert make_config("kd", "paper").teacher_config().precision == "fp32"  # its teacher too
    assert {make_config("kd", profile).precision for profile in ("smoke", "cpu")} == {"auto"}


def test_a_methods_profile_defaults_come_from_its_own_file():
    from kdsrc.distillers import METHODS
    for method, cls in METHODS.items():
        for profile, values in cls.profile_defaults.items():
            params = make_config(method, profile).method_params
            assert {name: params[name] for name in values} == {k: tuple(v) if isinstance(v, list) else v
                                                                for k, v in values.items()}


def test_a_profiles_own_teacher_schedule_is_the_teachers_and_scales_with_its_epochs(monkeypatch):
    monkeypatch.setitem(config.TEACHER_SCHEDULES, "cpu", dict(schedule="step", milestones=(15, 22)))
    monkeypatch.setitem(config.PROFILES, "cpu", {**PROFILES["cpu"], "teacher_epochs": 30})
    student = make_config("kd", "cpu")
    assert (student.schedule, student.milestones) == ("cosine", ())
    teacher = student.teacher_config()
    assert (teacher.epochs, teacher.schedule, teacher.milestones) == (30, "step", (15, 22))
    assert make_config("kd", "cpu", teacher_epochs=60).teacher_config().milestones == (30, 44)
    assert make_config("kd", "smoke").teacher_config().schedule == PROFILES["smoke"].get("schedule", "cosine")


def test_a_teacher_of_a_dataset_a_flip_would_relabel_trains_without_flips():
    teacher = make_config("kd", "cpu", dataset="fashion_pairs", flip=False).teacher_config()
    assert (teacher.dataset, teacher.flip, teacher.crop_padding) == ("fashion_pairs", False, PROFILES["cpu"].get("crop_padding", 2))

"""The book's studies: their configurations, and `python -m kdsrc study` training what one lacks."""
import pytest

from kdsrc import __main__ as cli
from kdsrc import experiment, studies
from kdsrc.config import make_config


def test_the_convergence_study_runs_both_methods_at_every_length_shortest_first():
    runs = studies.convergence("cpu")
    assert [(c.method, c.epochs, c.seed) for c in runs[:4]] == [("vanilla", 10, 0), ("kd", 10, 0),
                                                                ("vanilla", 10, 1), ("kd", 10, 1)]
    assert len(runs) == 2 * len(studies.CONVERGENCE_EPOCHS) * studies.CONVERGENCE_SEEDS
    assert [c.epochs for c in runs] == sorted(c.epochs for c in runs)
    assert len({c.run_id() for c in runs}) == len(runs)
    assert len(studies.teachers_of(runs)) == 1  # the student's epochs never change its teacher


def test_an_unknown_study_is_refused_with_the_names_allowed():
    with pytest.raises(ValueError, match=r"study: must be one of \[.*'convergence'.*\], got 'convergance'"):
        studies.study("convergance", "cpu")


def test_the_study_command_trains_what_is_missing_and_then_only_reports(tiny_config, tmp_path, monkeypatch, capsys):
    tiny = [tiny_config("vanilla", epochs=1), tiny_config("kd", epochs=1)]
    monkeypatch.setitem(studies.STUDIES, "tiny", lambda profile: tiny)
    assert cli.main(["study", "tiny", "--profile", "smoke", "--results", str(tmp_path), "--dry-run"]) == 0
    assert "0 stored, 0 in progress, 3 missing (3 epochs to train, about 0.0 h here at the stored runs' pace, 3 runs not estimated)" in capsys.readouterr().out
    assert not any(experiment.run_state(c, tmp_path) == "stored" for c in tiny)
    assert cli.main(["study", "tiny", "--profile", "smoke", "--results", str(tmp_path)]) == 0
    assert capsys.readouterr().out.count("  done ") == 3
    assert all(experiment.run_state(c, tmp_path) == "stored" for c in tiny)
    assert cli.main(["study", "tiny", "--profile", "smoke", "--results", str(tmp_path)]) == 0
    assert "3 stored, 0 in progress, 0 missing (0 epochs to train, about 0.0 h" in capsys.readouterr().out


def test_the_study_command_refuses_an_unknown_profile_in_one_line(capsys):
    assert cli.main(["study", "convergence", "--profile", "gpu"]) == 2
    assert capsys.readouterr().err.strip() == "kdsrc: error: profile: must be one of ['cpu', 'paper', 'smoke'], got 'gpu'"


def test_every_methods_grid_scales_its_main_values_with_the_official_setting_first():
    official = make_config("kd", "cpu").method_params
    kd = studies.grid("kd", "cpu")
    assert len(kd) == 9 and kd[0].method_params == official
    assert {(c.method_params["kd_weight"], c.method_params["temperature"]) for c in kd} == {
        (w, t) for w in (0.225, 0.9, 3.6) for t in (2.0, 4.0, 8.0)}
    assert {c.method_params["ce_weight"] for c in kd} == {official["ce_weight"]}  # only the main weight moves
    srrl = studies.grid("srrl", "cpu")
    assert [(c.method_params["fm_weight"], c.method_params["sr_weight"]) for c in srrl] == [(1, 1), (0.25, 0.25), (4, 4)]
    fsp = [c.method_params["init_epochs"] for c in studies.grid("fsp", "cpu")]
    assert fsp[0] == make_config("fsp", "cpu").method_params["init_epochs"] and all(isinstance(e, int) and e >= 1 for e in fsp)
    assert studies.grid("vanilla", "cpu") == [make_config("vanilla", "cpu")]
    assert all(len({c.run_id() for c in studies.grid(m, "cpu")}) == len(studies.grid(m, "cpu"))
               for m in studies.HEADLINE_METHODS)


def test_the_tuned_setting_is_the_best_on_validation_and_waits_for_the_whole_grid(tiny_config, tmp_path):
    tiny = dict(train_subset=100, test_subset=100, val_size=50, epochs=2, batch_size=32)
    settings = studies.grid("label_smoothing", "smoke", **tiny)
    with pytest.raises(experiment.MissingRun, match="tuned: 3 of the 3 label_smoothing settings"):
        studies.tuned("label_smoothing", "smoke", tmp_path, **tiny)
    vals = [experiment.run(cfg, tmp_path)["last_val_acc"] for cfg in settings]
    best = studies.tuned("label_smoothing", "smoke", tmp_path, **tiny)
    assert best == settings[vals.index(max(vals))]


def test_the_teachers_study_trains_every_capacity_size_from_two_seeds_and_the_ensemble_members():
    runs = studies.teachers("cpu")
    assert all(c.method == "vanilla" and c.train_subset is None for c in runs)
    assert sorted((c.model, c.seed) for c in runs) == sorted(
        [("resnet8", s) for s in range(4)] + [(m, s) for m in ("resnet14", "resnet20") for s in range(2)])
    assert make_config("kd", "cpu").teacher_config() in runs  # the book's own teacher among them


@pytest.mark.parametrize("name", sorted(set(studies.STUDIES) - {"headline_tuned"}))
def test_every_study_is_distinct_configurations_of_its_profile(name):
    runs = studies.study(name, "cpu")
    assert runs and all(c.profile == "cpu" for c in runs)
    assert len({c.run_id() for c in runs}) == len(runs)


def test_the_terminal_phase_trains_without_augmentation_for_twice_the_epochs_on_10_and_100_classes():
    runs = studies.terminal_phase("cpu")
    epochs = make_config("vanilla", "cpu").epochs
    assert {(c.crop_padding, c.flip, c.epochs) for c in runs} == {(0, False, 2 * epochs)}
    assert {c.dataset for c in runs} == {"fashion_mnist", "fashion_pairs"}
    assert all(c.method_params["measure_gradients"] for c in runs if c.method == "dhkd" or c.method_params.get("ce_weight"))
    assert sum(c.method == "ce_binary_kl" and c.method_params["ce_weight"] == 0 for c in runs) == 6  # BinaryKL alone
    pairs_teacher = next(c for c in runs if c.dataset == "fashion_pairs" and c.method == "dhkd").teacher_config()
    assert (pairs_teacher.dataset, pairs_teacher.flip, pairs_teacher.train_subset) == ("fashion_pairs", False, 20_000)


def test_the_study_command_leaves_a_run_another_process_holds_for_the_end(tiny_config, tmp_path, monkeypatch, capsys):
    import subprocess
    import sys

    from kdsrc import store
    tiny = [tiny_config("vanilla", epochs=1, seed=s) for s in range(3)]
    monkeypatch.setitem(studies.STUDIES, "tiny", lambda profile: tiny)
    held = store.run_path(tiny[0], tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", "import time\nfrom pathlib import Path\nfrom kdsrc import store\n"
                               f"with store.exclusive(Path({str(held)!r})):\n    print('held', flush=True)\n    time.sleep(2)"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    assert cli.main(["study", "tiny", "--profile", "smoke", "--results", str(tmp_path)]) == 0
    done = [line.split()[4] for line in capsys.readouterr().out.splitlines() if line.startswith("  done ")]
    assert done == ["seed=1", "seed=2", "seed=0"]
    holder.wait(timeout=30)


def test_a_studys_hours_are_estimated_from_the_stored_runs_of_the_same_kind(tiny_config, tmp_path):
    stored = experiment.run(tiny_config("vanilla", epochs=2), tmp_path)
    per_epoch = stored["wall_seconds_this_session"] / 2
    longer = [tiny_config("vanilla", epochs=10, seed=1), tiny_config("label_smoothing", epochs=4)]
    hours, unknown = studies.estimated_hours(longer, tmp_path)
    assert unknown == 0 and hours == pytest.approx(per_epoch * 14 / 3600)
    assert studies.estimated_hours([tiny_config("vanilla", epochs=2, model="resnet14")], tmp_path) == (0.0, 1)

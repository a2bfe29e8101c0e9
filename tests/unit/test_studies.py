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
    with pytest.raises(ValueError, match=r"study: must be one of \['convergence'"):
        studies.study("convergance", "cpu")


def test_the_study_command_trains_what_is_missing_and_then_only_reports(tiny_config, tmp_path, monkeypatch, capsys):
    tiny = [tiny_config("vanilla", epochs=1), tiny_config("kd", epochs=1)]
    monkeypatch.setitem(studies.STUDIES, "tiny", lambda profile: tiny)
    assert cli.main(["study", "tiny", "--profile", "smoke", "--results", str(tmp_path), "--dry-run"]) == 0
    assert "0 stored, 0 in progress, 3 missing (3 epochs to train)" in capsys.readouterr().out
    assert not any(experiment.run_state(c, tmp_path) == "stored" for c in tiny)
    assert cli.main(["study", "tiny", "--profile", "smoke", "--results", str(tmp_path)]) == 0
    assert capsys.readouterr().out.count("  trained ") == 3
    assert all(experiment.run_state(c, tmp_path) == "stored" for c in tiny)
    assert cli.main(["study", "tiny", "--profile", "smoke", "--results", str(tmp_path)]) == 0
    assert "3 stored, 0 in progress, 0 missing (0 epochs to train)" in capsys.readouterr().out


def test_the_study_command_refuses_an_unknown_profile_in_one_line(capsys):
    assert cli.main(["study", "convergence", "--profile", "gpu"]) == 2
    assert capsys.readouterr().err.strip() == "kdsrc: error: profile: must be one of ['cpu', 'paper', 'smoke'], got 'gpu'"

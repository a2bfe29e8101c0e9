"""kdsrc.machines: a stored run trained again under this process's numerics, set against the stored one."""
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from kdsrc import experiment, machines
from kdsrc.config import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_a_retraining_on_the_same_machine_is_identical_and_its_teacher_is_not_retrained(tiny_config, tmp_path):
    cfg = tiny_config("kd", epochs=1)
    stored = experiment.run(cfg, root=tmp_path)
    experiment.run(replace(cfg, seed=1), root=tmp_path)
    teacher_runs = sorted((tmp_path / "runs").glob("*/vanilla/*.json"))
    again = machines.retrain(cfg, "same-machine", tmp_path)
    assert sorted((tmp_path / "runs").glob("*/vanilla/*.json")) == teacher_runs
    assert again["run_id"] == stored["run_id"] and again["teacher_run_id"] == stored["teacher_run_id"]
    assert machines.machine_path(cfg, "same-machine", tmp_path).exists()
    row = machines.spread("smoke", tmp_path).iloc[0]
    assert (row["setting"], row["seeds"], row["last acc difference"], row["identical history"]) == \
        ("same-machine", 2, 0.0, True)
    # the unit tests set OMP_NUM_THREADS=1 (conftest); other caps in the environment are named beside it
    assert row["retrained on"] == row["stored on"] and "OMP_NUM_THREADS=1" in row["stored on"]


def test_retraining_needs_a_stored_run_and_a_plain_label(tiny_config, tmp_path):
    cfg = tiny_config("vanilla", epochs=1)
    with pytest.raises(ConfigError, match="retrain: no stored run of vanilla/resnet8 seed 0"):
        machines.retrain(cfg, "x", tmp_path)
    with pytest.raises(ConfigError, match="label: must be 1-40 lowercase"):
        machines.machine_path(cfg, "../up", tmp_path)
    assert not (tmp_path / "machines").exists()


def test_command_line_refuses_a_bad_label_in_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "kdsrc", "retrain", "--method", "vanilla", "--profile", "smoke",
                           "--label", "Not OK", "--results", tmp_path], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0
    assert proc.stderr.startswith("kdsrc: error: label: must be"), proc.stderr
    assert not any(tmp_path.iterdir())

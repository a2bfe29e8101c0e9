"""The retraining switch: KDSRC_RETRAINING=1 moves a process to the cpu profile's next training
revision, in its own results folder; unset, nothing changes; any other value is refused."""
import json
import os
import subprocess
import sys
from pathlib import Path

from kdsrc import retraining

ROOT = Path(__file__).resolve().parents[2]
PROBE = ("import json; from kdsrc import config, profiles, store; from kdsrc.engine import TRAINING_REVISION;"
         "c = config.make_config('kd', 'cpu');"
         "print(json.dumps(dict(revision=TRAINING_REVISION, profile=profiles.PROFILES['cpu'],"
         "schedules={k: {**v, 'milestones': list(v['milestones'])} for k, v in profiles.TEACHER_SCHEDULES.items()},"
         "results=str(store.results_dir()), run_id=c.run_id(), teacher=c.teacher_config().to_dict())))")


def _probe(value):
    env = {k: v for k, v in os.environ.items() if k not in ("KDSRC_RESULTS", retraining.VARIABLE)}
    if value is not None:
        env[retraining.VARIABLE] = value
    return subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=ROOT, capture_output=True, text=True)


def test_switch_moves_revision_profile_and_results_folder_together():
    before, after = (json.loads(_probe(v).stdout) for v in (None, "1"))
    assert before["revision"] == 1 and after["revision"] == retraining.REVISION == 2
    assert after["profile"]["teacher_epochs"] == retraining.CPU_PROFILE["teacher_epochs"] != before["profile"]["teacher_epochs"]
    assert after["schedules"] == {"cpu": {"schedule": "step", "milestones": [15, 22]}} and before["schedules"] == {}
    assert after["teacher"]["schedule"] == "step" and after["teacher"]["milestones"] == [15, 22]
    assert Path(after["results"]) == retraining.RESULTS and Path(before["results"]) == ROOT / "results"
    assert after["run_id"] != before["run_id"]
    assert json.loads(_probe("").stdout) == before


def test_other_values_are_refused_naming_the_variable():
    done = _probe("yes")
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1] == ("ValueError: KDSRC_RETRAINING: must be 1 (train and read the cpu "
                                                    "profile's next revision) or unset, got 'yes'")


def test_stored_retraining_runs_are_all_of_the_next_revision():
    records = [json.loads(p.read_text()) for p in sorted((retraining.RESULTS / "runs").rglob("*.json"))]
    assert all(r["training_revision"] == retraining.REVISION and r["config"]["profile"] == "cpu" for r in records)

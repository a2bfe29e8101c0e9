"""The reproducibility report: the read log of what a page read, and the tables made from it."""
import json
import subprocess
from pathlib import Path

import pytest

from kdsrc import report, store

ROOT = Path(__file__).resolve().parents[2]


def _record(folder: Path, run_id: str, seed: int, profile="cpu", **extra) -> Path:
    path = folder / f"{run_id}.json"
    path.write_text(json.dumps({"run_id": run_id, "last_test_acc": 80.0, "wall_seconds_this_session": 1800.0,
                                "config": {"method": "kd", "model": "resnet8", "teacher": "resnet14", "seed": seed,
                                           "profile": profile},
                                "code": {"git_commit": f"{seed}" * 40, "kdsrc_dirty": False},
                                "hardware": {"cpu": "AMD EPYC", "device": "cpu", "torch_threads": 2},
                                "libraries": {"torch": "2.14.1"}, **extra}))
    return path


def test_reads_are_logged_only_where_a_log_is_named(tmp_path, monkeypatch):
    run = _record(tmp_path, "a", 0)
    monkeypatch.delenv(store.READ_LOG, raising=False)
    store.read_run(run)
    assert not list(tmp_path.glob("*.txt"))
    log = tmp_path / "logs" / "02_x.txt"
    monkeypatch.setenv(store.READ_LOG, str(log))
    other = _record(tmp_path, "b", 1)
    for path in (run, other, run):
        store.read_run(path)
    assert store.read_log(log) == [run.resolve(), other.resolve()]


def test_page_reads_keep_runs_of_the_profile_and_leave_ensembles_out(tmp_path):
    logs = tmp_path / "reads"
    logs.mkdir()
    paths = [_record(tmp_path, "a", 0), _record(tmp_path, "b", 1, profile="smoke"),
             _record(tmp_path, "e", 0, member_run_ids=["a"])]
    (logs / "02_vanilla_kd.txt").write_text("".join(f"{p}\n" for p in paths))
    assert [r["run_id"] for r in report.page_reads(logs, "cpu")["02_vanilla_kd"]] == ["a"]
    assert [r["run_id"] for r in report.page_reads(logs)["02_vanilla_kd"]] == ["a", "b"]
    with pytest.raises(FileNotFoundError, match="read_logs: no folder"):
        report.page_reads(tmp_path / "absent")


def test_provenance_table_counts_each_run_once_in_the_books_row():
    first = {"run_id": "a", "config": {"seed": 0, "method": "kd", "model": "m"}, "wall_seconds_this_session": 3600.0,
             "code": {"git_commit": "1" * 40, "kdsrc_dirty": False}}
    second = {**first, "run_id": "b", "config": {"seed": 1, "method": "kd", "model": "m"}, "training_revision": 2,
              "code": {"git_commit": "2" * 40, "kdsrc_dirty": True}}
    table = report.provenance_table({"01_baselines": [first], "02_vanilla_kd": [first, second]}).set_index("page")
    kd = "2. Vanilla knowledge distillation"  # the chapter's title, numbered
    assert table.loc[kd, "runs"] == 2 and table.loc[kd, "seeds"] == "0, 1"
    assert table.loc[kd, "training revision"] == "1, 2"
    assert table.loc[kd, "code versions"] == "2 commits (one with uncommitted changes)"
    assert table.loc["the whole book", "runs"] == 2 and table.loc["the whole book", "training hours"] == 2.0
    assert table.loc["1. Baselines: the teacher and the student alone", "retrain"] == "papermill notebooks/01_baselines.ipynb out.ipynb -p fresh_results True"
    assert list(report.run_table({"01_baselines": [first]})["run id"]) == ["a"]


def test_make_notebooks_gives_every_chapter_its_own_read_log():
    out = subprocess.run(["make", "-n", "notebooks"], cwd=ROOT, capture_output=True, text=True).stdout
    assert "KDSRC_READ_LOG=" in out and "/reads/$nb.txt" in out

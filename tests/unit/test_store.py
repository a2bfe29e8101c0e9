"""The results folder: where it is, fresh and stored-only sessions, atomic writes, unreadable files."""
import json

import pytest

from kdsrc import experiment, results


def test_use_sets_the_default_results_root(tiny_config, tmp_path):
    assert experiment.use(tmp_path / "mine") == tmp_path / "mine"
    cfg = tiny_config("vanilla", epochs=1)
    experiment.run(cfg)
    assert results.run_path(cfg, tmp_path / "mine").exists()


def test_unreadable_stored_run_raises_value_error_naming_the_file(tiny_config, tmp_path):
    cfg = tiny_config("vanilla")
    path = results.run_path(cfg, tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text('{"config": ')
    with pytest.raises(ValueError, match=str(path)):
        experiment.run(cfg, root=tmp_path)
    path.write_text('{"config": {}}')  # valid JSON, not a run
    with pytest.raises(ValueError, match=str(path)):
        experiment.run(cfg, root=tmp_path)


def test_write_json_keeps_old_content_when_serialising_fails(tmp_path):
    path = tmp_path / "run.json"
    results.write_json({"a": 1}, path)
    with pytest.raises(TypeError):
        results.write_json({"a": object()}, path)
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_fresh_results_use_a_new_folder_or_the_shared_scratch_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("KDSRC_FRESH_RESULTS", raising=False)
    try:
        first, second = experiment.use(fresh=True), experiment.use(fresh=True)
        assert first != second and first.is_dir() and second.is_dir()
        for folder in (first, second):
            folder.rmdir()
        monkeypatch.setenv("KDSRC_FRESH_RESULTS", str(tmp_path / "scratch"))
        assert experiment.use(fresh=True) == experiment.use(fresh=True) == tmp_path / "scratch"
        assert (tmp_path / "scratch").is_dir()
    finally:
        experiment.use()


def test_every_reader_follows_the_folder_chosen_by_use(tiny_config, tmp_path):
    from kdsrc import store, teachers
    run = experiment.run(tiny_config("kd", epochs=1), tmp_path)
    store.write_json({"measured": True}, store.bench_path("smoke", tmp_path, "teacher_cache"))
    experiment.use(tmp_path)
    try:
        assert run["run_id"] in set(results.load_runs("smoke").run_id)
        assert results.stored_bench("smoke", "teacher_cache") == {"measured": True}
        assert list(teachers.manifest("smoke").id) == [f"run:{run['teacher_run_id']}"]
    finally:
        experiment.use()
    assert results.load_runs("smoke").empty and results.stored_bench("smoke", "teacher_cache") is None
    assert teachers.manifest("smoke").empty


def test_one_process_at_a_time_holds_a_lock_and_a_dead_ones_lock_is_taken_over(tmp_path):
    import subprocess
    import sys
    import time

    from kdsrc import store
    target = tmp_path / "runs" / "x.json"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom pathlib import Path\nfrom kdsrc import store\n"
                               f"with store.exclusive(Path({str(target)!r})):\n    print('held', flush=True)\n    time.sleep(3)"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held" and store.held(target)
    started = time.perf_counter()
    with store.exclusive(target, poll_seconds=0.1):
        waited = time.perf_counter() - started
        assert waited > 1  # it waited for the other process to let go
    assert holder.wait(timeout=30) == 0
    assert not store.held(target) and not (tmp_path / "runs" / "x.json.lock").exists()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / "runs" / "x.json.lock").write_text(dead.stdout.strip())
    assert not store.held(target)
    started = time.perf_counter()
    with store.exclusive(target, poll_seconds=0.1):
        assert time.perf_counter() - started < 1


def test_two_callers_of_one_missing_run_train_it_once(tiny_config, tmp_path, monkeypatch):
    import threading
    import time

    trained, real = [], experiment._train

    def counting(cfg, root, device):
        trained.append(cfg.run_id())
        time.sleep(0.5)  # long enough for the other caller to arrive while this one trains
        return real(cfg, root, device)
    monkeypatch.setattr(experiment, "_train", counting)
    cfg = tiny_config("vanilla", epochs=1)
    records = []
    callers = [threading.Thread(target=lambda: records.append(experiment.run(cfg, tmp_path))) for _ in range(2)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert trained == [cfg.run_id()] and len(records) == 2 and records[0] == records[1]

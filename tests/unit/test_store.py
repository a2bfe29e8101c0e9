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

"""Fixtures for the unit tests: a tiny run configuration, one thread, and a guard on the results folder."""
import pytest
import torch

from kdsrc.config import make_config

# The machine may be busy with a long training job: two threads on two shared cores can stall
# for seconds at each parallel region, one thread cannot.
torch.set_num_threads(1)

TINY = dict(train_subset=100, test_subset=100, epochs=2, batch_size=32,
            teacher_train_subset=100, teacher_epochs=1)


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory, monkeypatch):
    """Subprocesses run one thread too; a run that forgets its root never lands in the repository's results/."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("KDSRC_RESULTS", str(tmp_path_factory.mktemp("default_results")))


@pytest.fixture
def tiny_config():
    """``tiny_config(method, **overrides)``: the smoke profile shrunk to about a second a run."""
    return lambda method, **overrides: make_config(method, "smoke", **{**TINY, **overrides})

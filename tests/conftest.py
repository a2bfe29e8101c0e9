"""Set-up for the whole suite: one scratch results folder that the chapters re-executed at smoke
scale share (``fresh_results=True`` reads ``$KDSRC_FRESH_RESULTS``), so the teachers, runs and
benchmarks they have in common are trained and measured once per test session."""
import os
import shutil
import tempfile

_SCRATCH = "KDSRC_FRESH_RESULTS"


def pytest_configure(config):
    if _SCRATCH not in os.environ:
        config.kdsrc_scratch = tempfile.mkdtemp(prefix="kdsrc-smoke-")
        os.environ[_SCRATCH] = config.kdsrc_scratch


def pytest_unconfigure(config):
    scratch = getattr(config, "kdsrc_scratch", None)
    if scratch:
        shutil.rmtree(scratch, ignore_errors=True)
        del os.environ[_SCRATCH]

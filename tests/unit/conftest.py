"""Fixtures for the unit tests: a tiny run configuration, one thread, a guard on the results folder,
and a fabricated CIFAR-100 archive."""
import hashlib
import io
import pickle
import struct

import numpy as np
import pytest
import torch
from torchvision import datasets

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


class _Py2Pickler(pickle._Pickler):
    """Writes bytes as Python 2 ``str`` (BINSTRING), as the CIFAR pickles were written: they read
    back as b'...' keys with ``encoding="bytes"`` and as str keys with torchvision's ``latin1``."""

    def save_bytes(self, obj):
        self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch = {**pickle._Pickler.dispatch, bytes: save_bytes}


def _write_py2_pickle(obj, path):
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    path.write_bytes(buf.getvalue())
    return hashlib.md5(buf.getvalue()).hexdigest()


def _cifar_images(n, offset):
    """N x 3072 uint8 rows (CIFAR's R plane, G plane, B plane); image i carries its id i+offset in
    its first two R pixels; image 0 of each split is pure red."""
    images = np.zeros((n, 3, 32, 32), dtype=np.uint8)
    ids = np.arange(n) + offset
    images[:, 0, 0, 0], images[:, 0, 0, 1] = ids // 256, ids % 256
    images[0] = 0
    images[0, 0] = 255
    return images.reshape(n, 3072)


@pytest.fixture
def cifar_root(tmp_path, monkeypatch):
    """A torchvision root holding a fabricated ``cifar-100-python/``: 200 training images (2 a
    class) and 100 test images (1 a class), with torchvision's checksums patched to match."""
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    md5 = {}
    for split, n, offset in (("train", 200, 1), ("test", 100, 1000)):
        md5[split] = _write_py2_pickle({
            b"batch_label": f"{split} batch".encode(), b"data": _cifar_images(n, offset),
            b"fine_labels": [i % 100 for i in range(n)], b"coarse_labels": [i % 20 for i in range(n)],
            b"filenames": [f"img{i}.png".encode() for i in range(n)]}, folder / split)
    md5["meta"] = _write_py2_pickle({b"fine_label_names": [f"c{i}".encode() for i in range(100)],
                                     b"coarse_label_names": [f"s{i}".encode() for i in range(20)]},
                                    folder / "meta")
    monkeypatch.setattr(datasets.CIFAR100, "train_list", [["train", md5["train"]]])
    monkeypatch.setattr(datasets.CIFAR100, "test_list", [["test", md5["test"]]])
    monkeypatch.setattr(datasets.CIFAR100, "meta", {**datasets.CIFAR100.meta, "md5": md5["meta"]})
    return tmp_path

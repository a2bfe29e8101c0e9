"""Where a result came from: code version, library versions, hardware, and files' checksums."""
import functools
import hashlib
import os
import platform
import subprocess
from pathlib import Path

import torch
import torchvision


@functools.cache
def code_version() -> dict:
    """Git commit of the kdsrc checkout, and whether the working tree had changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--", "kdsrc"], cwd=root,
                                    capture_output=True, text=True, check=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = "unknown", None
    return {"git_commit": commit, "kdsrc_dirty": dirty}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# the settings that change which CPU kernels run, and so a run's floating-point results
NUMERICS_ENVIRONMENT = ("OMP_NUM_THREADS", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")


def hardware(device) -> dict:
    """The machine a result was measured on: device, CPU, threads, and the CPU kernels in use
    (ATen's vector capability, and the environment settings that cap it)."""
    device = torch.device(device)
    info = {"device": device.type, "cpu": _cpu_name(), "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "numerics_environment": {name: os.environ[name] for name in NUMERICS_ENVIRONMENT if name in os.environ}}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def libraries() -> dict:
    import numpy
    return {"python": platform.python_version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": numpy.__version__}


def sha256(path: str | Path) -> str:
    """The sha256 (hex) of the file at ``path``; computed once per file version in a process."""
    stat = Path(path).stat()
    return _sha256(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=32)
def _sha256(path: str, _mtime_ns: int, _size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

"""Peak memory of a training: CUDA's allocator statistics on a GPU, Linux's VmHWM on a CPU."""
import resource

import torch


def _proc_status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_memory_mb(device) -> float:
    """Peak CUDA memory allocated on a GPU; on a CPU the peak resident memory of this process since
    :func:`reset_peak_memory` (Linux's VmHWM), else since the process started."""
    if torch.device(device).type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    peak = _proc_status_mb("VmHWM")
    return peak if peak is not None else _max_rss_mb()


def reset_peak_memory(device) -> float:
    """Restart the peak-memory count (CUDA statistics; Linux's VmHWM through ``clear_refs``); return
    the memory in use now, in MB, the baseline a run's peak is compared with."""
    if torch.device(device).type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return torch.cuda.memory_allocated(device) / 2**20
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass
    now = _proc_status_mb("VmRSS")
    return now if now is not None else _max_rss_mb()


def peak_memory_kind(device) -> str:
    """What :func:`peak_memory_mb` measures on ``device``, as a run record names it."""
    return "cuda_max_allocated" if torch.device(device).type == "cuda" else "process_peak_rss"

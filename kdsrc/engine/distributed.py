"""Training on several processes (one per GPU) with ``torchrun`` and DistributedDataParallel.

``torchrun --nproc_per_node N -m kdsrc train ...`` starts N processes; :func:`setup` joins them in
a process group (NCCL on GPUs, each process on ``cuda:LOCAL_RANK``; gloo on CPUs). The recipe
does not change with N: every process holds the whole dataset and the same seeded generator, so
each draws the same global batch of ``cfg.batch_size`` augmented images and trains on its own
contiguous :func:`shard` of it; DDP averages the gradients, and the trainer weights each
process's loss by its shard's share of the batch, so the update is the one-process mean over
the global batch. What differs is BatchNorm: each process normalises by the statistics of its
own shard (no SyncBatchNorm), and the running statistics kept are process 0's, as DDP keeps
them; results therefore match a one-process run within a tolerance, not exactly.

Only process 0 writes (results, weights, checkpoints, caches, manifests); the others wait at a
barrier where they then read what it wrote. Without a process group (a plain ``python -m kdsrc``,
a notebook) every function here is the identity or a no-op, so one-process training is unchanged.
"""
import contextlib
import os

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


def active() -> bool:
    """Whether this process belongs to a process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def is_main() -> bool:
    """Whether this process is the one that writes files and prints (rank 0)."""
    return rank() == 0


def launched() -> bool:
    """Whether ``torchrun`` started this process as one of several (``WORLD_SIZE > 1``)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device: str | None) -> str | None:
    """Join the process group ``torchrun`` describes and return this process's device:
    ``cuda:LOCAL_RANK`` with NCCL when ``device`` is CUDA (or None and a GPU is available), else
    ``cpu`` with gloo. When torchrun did not start several processes, ``device`` unchanged."""
    if not launched():
        return device
    kind = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu")).type
    if kind not in ("cuda", "cpu"):
        raise ValueError(f"device: torchrun trains on cuda (NCCL) or cpu (gloo), got {device!r}")
    if kind == "cuda":
        local = int(os.environ["LOCAL_RANK"])
        if local >= torch.cuda.device_count():
            raise ValueError(f"--nproc_per_node: process {local} has no GPU (this machine has "
                             f"{torch.cuda.device_count()}); start at most one process per GPU")
        torch.cuda.set_device(local)
        dist.init_process_group("nccl")
        return f"cuda:{local}"
    dist.init_process_group("gloo")
    return "cpu"


def teardown() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def describe() -> dict | None:
    """What a stored result records of the processes that trained it; None for one process."""
    return {"world_size": world_size(), "backend": dist.get_backend()} if active() else None


def shard(batch: torch.Tensor, part: int | None = None, parts: int | None = None) -> torch.Tensor:
    """Part ``part`` of ``parts`` of ``batch`` (default: this process's of the world's): contiguous
    rows, the parts' sizes differing by at most one; concatenated in order they are ``batch``."""
    parts = world_size() if parts is None else parts
    if parts == 1:
        return batch
    return torch.tensor_split(batch, parts)[rank() if part is None else part]


def all_sum(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` summed over the processes (in place); unchanged in one process."""
    if active():
        dist.all_reduce(tensor)
    return tensor


def all_gather_rows(tensor: torch.Tensor) -> torch.Tensor:
    """Every process's ``tensor`` (their shards of one batch: rows of any number, the same
    trailing shape) concatenated in rank order, on every process; ``tensor`` itself in one."""
    if not active():
        return tensor
    sizes = [torch.zeros(1, dtype=torch.int64, device=tensor.device) for _ in range(world_size())]
    dist.all_gather(sizes, torch.tensor([len(tensor)], device=tensor.device))
    sizes = [int(n) for n in sizes]
    padded = torch.zeros((max(sizes), *tensor.shape[1:]), dtype=tensor.dtype, device=tensor.device)
    padded[:len(tensor)] = tensor
    parts = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(parts, padded)
    return torch.cat([part[:n] for part, n in zip(parts, sizes)])


def barrier() -> None:
    if active():
        dist.barrier()


@contextlib.contextmanager
def main_first():
    """Run the block on process 0 first and on the others once it is done: a block that builds and
    stores a file when it is missing and reads it otherwise is built once and read by the rest."""
    if not is_main():
        barrier()
    yield
    if is_main():
        barrier()


def broadcast_buffers(module: nn.Module, skip: str = "teacher.") -> None:
    """Copy process 0's buffers (BatchNorm running statistics) into every process's ``module``,
    except those whose names start with ``skip`` (a frozen teacher's are equal everywhere)."""
    if active():
        for name, buffer in module.named_buffers():
            if not name.startswith(skip):
                dist.broadcast(buffer, 0)


class _Step(nn.Module):
    """What DDP wraps: the modules whose gradients it averages, and the step's loss function,
    which the trainer calls through DDP so that DDP prepares each step's gradient reduction."""

    def __init__(self, modules: list[nn.Module], loss):
        super().__init__()
        self.trained = nn.ModuleList(modules)
        self.loss = loss

    def forward(self, *inputs):
        return self.loss(*inputs)


def data_parallel(loss, modules: list[nn.Module], device):
    """``loss`` as the forward of a DDP module over ``modules``, whose gradients it averages over
    the processes; ``loss`` itself in one process. Parameters without ``requires_grad`` (a frozen
    teacher) are left out; the graph is static (the same parameters get gradients every step), so
    parameters a method never uses are allowed. Before each step DDP copies process 0's buffers
    (BatchNorm running statistics) to the others."""
    if not active():
        return loss
    device = torch.device(device)
    return DistributedDataParallel(_Step(modules, loss), device_ids=[device] if device.type == "cuda" else None,
                                   static_graph=True)


def shard_weight(shard_size: int, batch_size: int, parts: int | None = None) -> float:
    """The factor on a process's mean loss over its shard that makes the average of the ``parts``
    processes' gradients (DDP's; default: the world's) the gradient of the mean over the batch;
    exactly 1 when the shards are equal."""
    return (world_size() if parts is None else parts) * shard_size / batch_size

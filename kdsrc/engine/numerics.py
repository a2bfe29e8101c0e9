"""How the training step computes: the floating-point precision and the memory format.

``precision="auto"`` is bfloat16 autocast on a CUDA device that supports it and fp32 elsewhere.
On a CPU without native bfloat16 arithmetic (this project's AVX2 machine) bf16 autocast made a
resnet8 training step about 10x slower than fp32, so ``auto`` never picks it on a CPU; CPUs with
AVX-512 BF16 or AMX can ask for ``precision="bf16"`` explicitly. Under autocast the convolutions
and linear layers run in bf16, the losses in fp32 (:mod:`kdsrc.losses` casts its inputs up), and
the weights, gradients and optimizer state stay fp32.
"""
import torch

from ..validate import require_choice

PRECISIONS = ("auto", "fp32", "bf16")
# How a teacher-logit cache stores its logits: float32 keeps them as computed, so a cached run
# trains exactly as one that runs its teacher on every batch; float16 halves the memory and rounds
# each logit to about three significant digits.
CACHE_DTYPES = {"float32": torch.float32, "float16": torch.float16}


def resolve_precision(precision: str, device) -> str:
    """The precision a run computes in on ``device``: ``"fp32"`` or ``"bf16"``."""
    require_choice("precision", precision, PRECISIONS)
    if precision != "auto":
        return precision
    device = torch.device(device)
    return "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"


def autocast(precision: str, device) -> torch.autocast:
    """The autocast context of ``precision`` on ``device`` (disabled for fp32)."""
    device = torch.device(device)
    return torch.autocast(device.type, dtype=torch.bfloat16,
                          enabled=resolve_precision(precision, device) == "bf16")


def memory_format(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """``x`` in channels-last layout when asked (4-d batches only), else unchanged."""
    return x.contiguous(memory_format=torch.channels_last) if channels_last and x.ndim == 4 else x


def default_device() -> str:
    """Where a run trains unless told: the GPU when there is one, else the CPU."""
    return "cuda" if torch.cuda.is_available() else "cpu"

"""Teachers from elsewhere: RepDistiller and mdistiller checkpoints, read with ``weights_only=True``.

RepDistiller (Tian et al., "Contrastive Representation Distillation", ICLR 2020,
github.com/HobbitLong/RepDistiller) saves a teacher as ``{'model': state_dict, 'epoch': ...,
'accuracy': ..., 'optimizer': ...}`` in ``save/models/<name>_vanilla/ckpt_epoch_240.pth``, and
loads it with ``torch.load(path)['model']``; the teachers of mdistiller (Zhao et al., "Decoupled
Knowledge Distillation", CVPR 2022, github.com/megvii-research/mdistiller), ``cifar_teachers.tar``,
and its ``student_*`` checkpoints keep that layout. Our zoo has every one of those architectures
with the same tensors in the same order, under other names (RepDistiller's ``layer1``,
``block1.layer``, ``classifier``, ``linear`` are our ``stages.0``, ``stages.0``, ``fc``, ``fc``).
:func:`import_checkpoint` therefore pairs the file's tensors with the model's in order, and only
after checking that both sequences agree entry by entry: same kind (``weight``, ``bias``,
``running_mean``, ...), same shape, and a new module starting at the same places. A file of
another architecture, or of another number of classes or input channels, never loads: the error
says what differs and which model of the zoo the file does fit. A file in our own layout loads
by name. Files are read with ``weights_only=True``: RepDistiller's ``<model>_last.pth``, which
also pickles its argparse options, is refused (its ``ckpt_epoch_<N>.pth`` and ``<model>_best.pth``
load).
"""
import re
from pathlib import Path

import torch
from torch import nn

from .engine.provenance import sha256
from .models import MODELS, build_model

# Checkpoints written before BatchNorm counted its batches lack these entries; the count only
# matters to a BatchNorm with momentum=None, which no model of the zoo has.
_OPTIONAL_KIND = "num_batches_tracked"


def checkpoint_id(path: str | Path) -> str:
    """How a run records an imported teacher: ``checkpoint:`` and the first 16 hex digits of its sha256."""
    return f"checkpoint:{sha256(path)[:16]}"


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict in the file at ``path``: its ``'model'`` entry (RepDistiller, mdistiller), or
    the file itself when it is a bare state dict; read with ``weights_only=True``."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(exc))
        if found:
            raise ValueError(f"teacher_checkpoint: {path} cannot be read with weights_only=True: it pickles "
                             f"{found.group(1)}; give a file of tensors, such as RepDistiller's ckpt_epoch_<N>.pth "
                             "(its <model>_last.pth also pickles its options)") from None
        # torch's own message starts with advice to load unsafely; keep only its diagnosis
        detail = re.search(r"WeightsUnpickler error:\s*(.+)", str(exc)) or re.search(r"(.*)", str(exc).strip())
        raise ValueError(f"teacher_checkpoint: cannot read {path} as a file of tensors "
                         f"({type(exc).__name__}: {detail.group(1).strip()})") from None
    state = obj.get("model") if isinstance(obj, dict) and "model" in obj else obj
    if not isinstance(state, dict) or not state or \
            not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        found = sorted(map(str, obj))[:5] if isinstance(obj, dict) else type(obj).__name__
        raise ValueError(f"teacher_checkpoint: {path} holds no state dict (expected {{'model': state_dict}} as "
                         f"RepDistiller and mdistiller save, or a bare state dict of tensors), found {found}")
    return state


def _kind(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def _signature(state: dict[str, torch.Tensor]) -> list[tuple]:
    """Per entry: its kind, its shape, and whether it starts a new module."""
    prefixes = [key.rsplit(".", 1)[0] for key in state]
    return [(_kind(key), tuple(value.shape), i == 0 or prefixes[i] != prefixes[i - 1])
            for i, (key, value) in enumerate(state.items())]


def _comparable(ours: dict, theirs: dict) -> dict:
    """``ours`` without the optional entries when ``theirs`` has none of them."""
    if any(_kind(k) == _OPTIONAL_KIND for k in theirs):
        return ours
    return {k: v for k, v in ours.items() if _kind(k) != _OPTIONAL_KIND}


def _difference(theirs: dict, ours: dict) -> str:
    """The first difference between two state dicts taken in order, in words."""
    count = "" if len(theirs) == len(ours) else f"the file has {len(theirs)} tensors, the model {len(ours)}; "
    for i, (a, b, sa, sb) in enumerate(zip(theirs, ours, _signature(theirs), _signature(ours))):
        if sa != sb:
            return (f"{count}tensor {i} differs: file {a!r} {list(sa[1])}, model {b!r} {list(sb[1])}"
                    + ("" if sa[2] == sb[2] else " (a module boundary falls elsewhere)"))
    return count + "the shorter is a prefix of the longer"


def _classes_and_channels(state: dict) -> tuple[int, int]:
    """Number of classes (rows of the last matrix) and input channels (of the first convolution)."""
    shapes = [v.shape for v in state.values()]
    return (next((s[0] for s in reversed(shapes) if len(s) == 2), 0),
            next((s[1] for s in shapes if len(s) == 4), 0))


def _zoo_matches(state: dict) -> list[str]:
    """Models of the zoo (at the file's classes and input channels) whose tensors the file has, in order."""
    num_classes, in_channels = _classes_and_channels(state)
    if not num_classes or not in_channels:
        return []
    wanted = _signature(state)
    found = []
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost worth the name
        for name in MODELS:
            if _signature(_comparable(build_model(name, num_classes, in_channels).state_dict(), state)) == wanted:
                found.append(f"{name} (num_classes={num_classes}, in_channels={in_channels})")
    return found


def _translate(state: dict[str, torch.Tensor], model: nn.Module, model_name: str, path) -> dict[str, torch.Tensor]:
    """``state`` renamed to ``model``'s keys: by name when the names are ours, else in order once
    kinds, shapes and module boundaries agree entry by entry; a ValueError says what differs."""
    ours = model.state_dict()
    if set(state) == set(ours):
        state = {key: state[key] for key in ours}
    expected = _comparable(ours, state)
    if _signature(state) != _signature(expected):
        matches = _zoo_matches(state)
        fits = f"the file fits {', '.join(matches)}" if matches else "the file fits no model of the zoo"
        num_classes, in_channels = _classes_and_channels(ours)
        raise ValueError(f"teacher_checkpoint: {path} is not a {model_name} (num_classes={num_classes}, "
                         f"in_channels={in_channels}): {_difference(state, expected)}; {fits}")
    return {**ours, **dict(zip(expected, state.values()))}


def import_checkpoint(path: str | Path, model_name: str, num_classes: int = 100, in_channels: int = 3,
                      model: nn.Module | None = None) -> nn.Module:
    """The zoo's ``model_name`` with the weights of a RepDistiller or mdistiller teacher checkpoint
    (or one of ours) at ``path``, loaded into ``model`` if given; see the module's docstring."""
    if model is None:
        model = build_model(model_name, num_classes, in_channels)
    model.load_state_dict(_translate(read_state_dict(path), model, model_name, path))
    return model


__all__ = ["import_checkpoint", "read_state_dict", "checkpoint_id"]

"""A network's outputs without training: test accuracy, logits and features of unaugmented images."""
import torch

from ..data import Dataset, Split, to_model_input
from . import distributed, numerics


def model_input(images: torch.Tensor, data: Dataset, cfg, device, views=None) -> torch.Tensor:
    """uint8 ``images`` on ``device`` as a normalised batch (view ``views[i]`` of image i when
    given), in the memory format ``cfg`` trains in."""
    x = to_model_input(images.to(device, non_blocking=True), data.mean, data.std, views,
                       cfg.crop_padding, cfg.flip)
    return numerics.memory_format(x, cfg.channels_last)


@torch.no_grad()
def evaluate(model: torch.nn.Module, split: Split, data: Dataset, cfg, device, batch_size: int = 256) -> float:
    """Top-1 accuracy (%) of ``model`` in eval mode on ``split`` without augmentation, computed in
    the precision the run trains in; under several processes each counts its shard of ``split``."""
    was_training = model.training
    model.eval()
    images, labels = distributed.shard(split.images), distributed.shard(split.labels)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    for start in range(0, len(images), batch_size):
        x = model_input(images[start:start + batch_size], data, cfg, device)
        with numerics.autocast(cfg.precision, device):
            logits = model(x)
        correct += (logits.argmax(1) == labels[start:start + batch_size].to(device)).sum()
    model.train(was_training)
    return 100.0 * distributed.all_sum(correct).item() / len(split)


@torch.no_grad()
def predicted_classes(model: torch.nn.Module, split: Split, data: Dataset, cfg, device,
                      batch_size: int = 256) -> torch.Tensor:
    """The top-1 class ``model`` predicts for every image of ``split`` (eval mode, no augmentation,
    the run's precision), as the CPU tensor of the smallest integer type that holds the classes."""
    was_training = model.training
    model.eval()
    classes = []
    for start in range(0, len(split), batch_size):
        x = model_input(split.images[start:start + batch_size], data, cfg, device)
        with numerics.autocast(cfg.precision, device):
            classes.append(model(x).argmax(1).cpu())
    model.train(was_training)
    return torch.cat(classes).to(torch.uint8 if data.num_classes <= 256 else torch.int16)


@torch.no_grad()
def predict(model: torch.nn.Module, images: torch.Tensor, data: Dataset) -> torch.Tensor:
    """Logits of ``model`` in eval mode for uint8 ``images`` of ``data`` (no augmentation)."""
    model.eval()
    return model(to_model_input(images, data.mean, data.std))


@torch.no_grad()
def predict_features(model: torch.nn.Module, images: torch.Tensor, data: Dataset):
    """:class:`kdsrc.models.Features` of ``model`` in eval mode for uint8 ``images`` of ``data``."""
    model.eval()
    return model.forward_features(to_model_input(images, data.mean, data.std))

"""What a network's hidden features show about the intermediate-layer methods (tensors in, tables out)."""
import pandas as pd
import torch


def boundary_table(features: dict, margin: float = 1.0, stages=(1, 2, 3)) -> pd.DataFrame:
    """Per model and stage, from pre-ReLU outputs (Heo et al. 2019): the share of neurons that are on
    (> 0), and the share inside the margin band (|x| < margin), where the AB loss acts even on a
    neuron that is on the teacher's side of its boundary."""
    rows = []
    for name, feats in features.items():
        for stage in stages:
            pre = feats.preacts[stage]
            rows.append({"model": name, "stage": stage, "channels": pre.shape[1],
                         "on (%)": 100 * (pre > 0).float().mean().item(),
                         "inside ±margin (%)": 100 * (pre.abs() < margin).float().mean().item()})
    return pd.DataFrame(rows)


@torch.no_grad()
def classifier_table(features: dict, classifier: torch.nn.Module, labels: torch.Tensor) -> pd.DataFrame:
    """Per model, the test accuracy (%) of its own classifier and of ``classifier`` (e.g. the
    teacher's) applied to its pooled penultimate feature: the check behind SRRL's softmax
    regression (Yang et al. 2021, Eq. 5)."""
    rows = []
    for name, feats in features.items():
        rows.append({"model": name,
                     "own classifier acc (%)": 100 * (feats.logits.argmax(1) == labels).float().mean().item(),
                     "teacher classifier acc (%)": 100 * (classifier(feats.pooled).argmax(1) == labels).float().mean().item()})
    return pd.DataFrame(rows)

"""What a network's hidden features show about the intermediate-layer methods (tensors in, tables out)."""
import pandas as pd


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

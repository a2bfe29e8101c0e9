"""kdsrc: the package behind the kd-companion book (data, models, losses, distillers, training, results)."""
__version__ = "0.1.0"

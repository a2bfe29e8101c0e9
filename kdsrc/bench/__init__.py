"""Throughput and cost, measured on our loop: the teacher-logit cache's worth (:mod:`.cache`), each
method's cost (:mod:`.costs`), the paper profile's pairs and our loop against a RepDistiller-style
one (:mod:`.pairs`, :mod:`.reference_loop`); and the stored benchmarks the book reads (:mod:`.stored`).
``python -m kdsrc bench <kind>`` measures and stores them."""
from .cache import teacher_cache
from .costs import measure_method_costs, method_cost
from .pairs import (CIFAR_TRAIN_IMAGES, PAPER_REFERENCE_PAIR, cpu_pair_against_reference, fabricated_cifar,
                    pair_throughput, pairs_bench, projected_minutes, reference_comparison)
from .stored import method_costs, teacher_cache_cost

__all__ = ["teacher_cache", "measure_method_costs", "method_cost", "CIFAR_TRAIN_IMAGES", "PAPER_REFERENCE_PAIR",
           "cpu_pair_against_reference", "fabricated_cifar", "pair_throughput", "pairs_bench", "projected_minutes",
           "reference_comparison", "method_costs", "teacher_cache_cost"]

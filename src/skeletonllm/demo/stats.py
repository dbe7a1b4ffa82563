"""Statistics of the multi-seed renderer study: spread over seeds and paired tests.

Every arm of one seed shares the seed's data, head start and data order, so two arms are
compared seed by seed (paired): the differences ``a[s] - b[s]`` remove what a seed does to
both. Two tests of "the mean difference is zero", both two-sided:

* the sign test: under the null each non-zero difference is positive with probability 1/2;
  p is the exact binomial probability of a split at least as uneven (ties are dropped);
* the paired t-test: ``t = mean(d) / (sd(d) / sqrt(n))`` with ``n - 1`` degrees of freedom
  (it assumes roughly normal differences; with five seeds the sign test cannot go below
  p = 0.0625, which is why both are reported).
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1 in the denominator; 0 for one value)."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("mean_sd needs at least one value")
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, sd


def sign_test(differences: Sequence[float]) -> dict:
    """Two-sided exact sign test: ``{"positive", "negative", "ties", "p"}`` (p = 1 when every
    difference is a tie)."""
    from scipy.stats import binomtest

    pos = sum(d > 0 for d in differences)
    neg = sum(d < 0 for d in differences)
    p = binomtest(pos, pos + neg, 0.5).pvalue if pos + neg else 1.0
    return {"positive": pos, "negative": neg, "ties": len(differences) - pos - neg, "p": float(p)}


def paired_t(differences: Sequence[float]) -> dict:
    """Two-sided one-sample t-test of the paired differences against 0:
    ``{"mean", "sd", "t", "df", "p"}``. With every difference equal, t is infinite (p = 0)
    unless they are all 0 (t = 0, p = 1); with one difference there is no test (t, p None)."""
    from scipy.stats import t as student

    n = len(differences)
    mean, sd = mean_sd(differences)
    if n < 2:
        return {"mean": mean, "sd": sd, "t": None, "df": 0, "p": None}
    if sd == 0.0:
        t = 0.0 if mean == 0.0 else math.copysign(math.inf, mean)
    else:
        t = mean / (sd / math.sqrt(n))
    p = 1.0 if t == 0.0 else (0.0 if math.isinf(t) else float(2 * student.sf(abs(t), n - 1)))
    return {"mean": mean, "sd": sd, "t": t, "df": n - 1, "p": p}


def paired_comparison(a: Mapping, b: Mapping) -> dict:
    """``a`` against ``b`` over the seeds both have (``{seed: value}``): the per-seed
    differences ``a - b``, how many seeds ``a`` wins, and both tests."""
    seeds = sorted(set(a) & set(b))
    if not seeds:
        raise ValueError("paired_comparison: no seed in common")
    diffs = [float(a[s]) - float(b[s]) for s in seeds]
    return {"seeds": seeds, "differences": diffs, "wins": sum(d > 0 for d in diffs),
            "sign_test": sign_test(diffs), "t_test": paired_t(diffs)}


__all__ = ["mean_sd", "paired_comparison", "paired_t", "sign_test"]

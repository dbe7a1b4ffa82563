"""The renderer study's statistics against values worked out by hand."""
import math

import pytest

from skeletonllm.demo.stats import mean_sd, paired_comparison, paired_t, sign_test


def test_mean_and_sample_sd():
    mean, sd = mean_sd([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0])
    # mean 40 / 8 = 5; squared deviations 9+1+1+1+0+0+4+16 = 32; sd = sqrt(32 / 7)
    assert mean == 5.0 and sd == pytest.approx(math.sqrt(32 / 7))
    assert mean_sd([3.5]) == (3.5, 0.0)
    with pytest.raises(ValueError):
        mean_sd([])


def test_sign_test_is_the_exact_binomial():
    # 4 positive, 1 negative: P(X <= 1) + P(X >= 4) for X ~ Bin(5, 1/2) = (1 + 5 + 5 + 1) / 32
    r = sign_test([1.0, 2.0, 3.0, 4.0, -1.0])
    assert (r["positive"], r["negative"], r["ties"]) == (4, 1, 0)
    assert r["p"] == pytest.approx(12 / 32)
    # 5 of 5 positive: 2 / 32 = 0.0625, the smallest p five seeds can give
    assert sign_test([0.1] * 5)["p"] == pytest.approx(0.0625)
    # ties are dropped: 3 positive, 0 negative -> 2 / 8
    r = sign_test([0.2, 0.0, 0.1, 0.0, 0.3])
    assert r["ties"] == 2 and r["p"] == pytest.approx(0.25)
    assert sign_test([0.0, 0.0])["p"] == 1.0


def test_paired_t_by_hand():
    d = [1.0, 2.0, 3.0, 4.0, -1.0]
    # mean 1.8; deviations -0.8, 0.2, 1.2, 2.2, -2.8 -> squares sum 14.8; sd = sqrt(14.8 / 4) = sqrt(3.7)
    # t = 1.8 / (sqrt(3.7) / sqrt(5)) = 2.0925...; two-sided p with 4 degrees of freedom = 0.1045 (t table)
    r = paired_t(d)
    assert r["mean"] == pytest.approx(1.8) and r["sd"] == pytest.approx(math.sqrt(3.7))
    assert r["t"] == pytest.approx(1.8 / (math.sqrt(3.7) / math.sqrt(5))) and r["df"] == 4
    assert r["p"] == pytest.approx(0.10450, abs=5e-5)
    # every difference equal: no spread, the t statistic is infinite
    r = paired_t([0.5, 0.5, 0.5])
    assert r["t"] == math.inf and r["p"] == 0.0
    assert paired_t([0.0, 0.0])["p"] == 1.0
    assert paired_t([1.0])["p"] is None


def test_paired_comparison_uses_the_common_seeds():
    a = {0: 0.50, 1: 0.40, 2: 0.45, 7: 0.9}
    b = {0: 0.40, 1: 0.45, 2: 0.35, 3: 0.1}
    r = paired_comparison(a, b)
    assert r["seeds"] == [0, 1, 2]
    assert r["differences"] == pytest.approx([0.10, -0.05, 0.10]) and r["wins"] == 2
    assert r["sign_test"]["p"] == pytest.approx(1.0)            # 2 of 3: (1 + 3 + 3 + 1) / 8
    assert r["t_test"]["mean"] == pytest.approx(0.05)
    with pytest.raises(ValueError):
        paired_comparison({0: 1.0}, {1: 1.0})

"""Timing hygiene of speed metrics (kinds.cuda): the stopping rule and the spread, without a GPU."""
from __future__ import annotations

import math

from llmbench.kinds.cuda import TimingRule, median_and_spread


def test_median_and_spread():
    med, spread = median_and_spread([1.0, 1.0, 1.0, 1.0])
    assert med == 1.0 and spread == 0.0
    med, spread = median_and_spread([1.0, 2.0, 3.0, 4.0, 5.0])
    assert med == 3.0 and math.isclose(spread, 2.0 / 3.0)
    assert all(math.isnan(v) for v in median_and_spread([]))


def test_rule_needs_the_minimum_then_stops_on_small_spread_budget_or_cap():
    rule = TimingRule(min_repeats=5, max_repeats=50, max_spread=0.05, budget_s=10.0)
    steady = [1.0] * 4
    assert not rule.done(steady, 0.1)  # below the minimum
    assert rule.done(steady + [1.0], 0.1)  # minimum reached, spread 0
    noisy = [1.0, 2.0, 1.0, 3.0, 1.5]
    assert not rule.done(noisy, 0.1)  # spread too large: keep timing
    assert rule.done(noisy, 10.0)  # budget spent
    assert rule.done(noisy * 10, 0.1)  # cap reached
    assert rule.done([1.0, 2.0, 3.0], 40.0)  # a very slow kernel stops after 4 budgets with 3 samples
